// `dllm-wgpu fuzz`: the kernel property suite with many more cases for a time budget. Each round
// runs every selected spec with a fresh seed; a failure prints the seed and path that replay it.
import * as fc from 'fast-check';
import type { Device } from '../engine/device.ts';
import { ALL_SPECS } from '../kernels/registry.ts';
import { checkCase } from '../kernels/check.ts';
import { UserError } from '../engine/errors.ts';
import { log } from './run.ts';

export interface FuzzOptions {
  seconds: number;
  seed?: number;
  kernel?: string;
  runs: number;
}

export async function fuzz(dev: Device, o: FuzzOptions): Promise<{ cases: number; failures: number }> {
  const specs = ALL_SPECS.filter(
    (s) => !o.kernel || s.name === o.kernel || s.name.startsWith(o.kernel + '.') || s.kernel === o.kernel,
  );
  if (!specs.length) {
    throw new UserError(
      `no kernel spec matches "${o.kernel}"; known: ${[...new Set(ALL_SPECS.map((s) => s.name))].join(', ')}`,
    );
  }
  let seed = o.seed ?? (Date.now() ^ (Math.random() * 2 ** 31)) | 0;
  log(`fuzz: ${specs.length} specs, ${o.seconds} s budget, base seed ${seed}`);
  const end = Date.now() + o.seconds * 1000;
  let cases = 0,
    failures = 0,
    round = 0;
  while (Date.now() < end || round === 0) {
    for (const spec of specs) {
      if (Date.now() >= end && round > 0) break;
      const t0 = Date.now();
      const r = await fc.check(
        fc.asyncProperty(spec.arb, (c) => checkCase(dev, spec, c)),
        { seed, numRuns: o.runs, endOnFailure: true },
      );
      cases += r.numRuns;
      if (Date.now() - t0 > 10_000)
        log(`fuzz: ${spec.name} took ${((Date.now() - t0) / 1000).toFixed(0)} s for ${r.numRuns} cases (seed ${seed})`);
      if (r.failed) {
        failures++;
        const err = (r.errorInstance as Error | undefined)?.message ?? String(r.errorInstance);
        log(`FAIL ${spec.name} seed=${r.seed} path=${r.counterexamplePath}\n  ${err.split('\n')[0]}`);
        log(
          `  replay: dllm-wgpu fuzz --kernel ${spec.name} --seed ${r.seed} --runs ${o.runs}` +
            `   or: FC_SEED=${r.seed} FC_PATH=${r.counterexamplePath} KERNEL=${spec.name} node --import tsx kernels/ops.test.ts`,
        );
      }
      seed = (seed + 0x9e3779b9) | 0;
    }
    round++;
    if (o.seed !== undefined && failures) break;
  }
  log(`fuzz: ${cases} cases over ${round} rounds, ${failures} failures`);
  return { cases, failures };
}
