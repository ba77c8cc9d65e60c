// `dllm-wgpu fuzz`: the kernel property suite with many more cases for a time budget. Each round
// runs every selected spec with a fresh seed; a failure prints the seed and path that replay it.
// The specs (test code, and fast-check) load only when this command runs. A spec that forces a
// kernel variant runs on a device opened with that override; variants this adapter cannot run are
// skipped with a line saying why.
import * as fc from 'fast-check';
import type { Device } from '../engine/device.ts';
import { parseKernelChoices, type KernelChoices } from '../engine/adapter.ts';
import { unavailable, type KernelOp } from '../kernels/variants.ts';
import { installHooks } from '../kernels/elementwise/elementwise.ts';
import type { OpCase, OpSpec } from '../kernels/spec.ts';
import { UserError } from '../engine/errors.ts';
import { log } from './run.ts';

export interface FuzzOptions {
  seconds: number;
  seed?: number;
  kernel?: string;
  runs: number;
}

/**
 * `open(kernels)` opens a device like `dev` with other kernel overrides (the CLI passes its
 * --backend / --adapter); fuzz destroys the devices it opens.
 */
export async function fuzz(
  dev: Device,
  o: FuzzOptions,
  open: (kernels: KernelChoices) => Promise<Device>,
): Promise<{ cases: number; failures: number }> {
  const { ALL_SPECS } = await import('../kernels/registry.ts');
  const { checkCase } = await import('../kernels/check.ts');
  const all = ALL_SPECS.filter(
    (s) => !o.kernel || s.name === o.kernel || s.name.startsWith(o.kernel + '.') || s.kernel === o.kernel,
  );
  if (!all.length) {
    throw new UserError(
      `no kernel spec matches "${o.kernel}"; known: ${[...new Set(ALL_SPECS.map((s) => s.name))].join(', ')}`,
    );
  }
  const devices = new Map<OpSpec, Device>();
  const opened = new Map<string, Device>(); // by their overrides, shared between specs
  try {
    for (const spec of all) {
      const d = await deviceFor(dev, spec, open, opened);
      if (d) devices.set(spec, d);
    }
    return await rounds([...devices.keys()], devices, o, checkCase);
  } finally {
    for (const d of opened.values()) await d.destroy();
  }
}

/** The device `spec` runs on: `dev`, or one opened with the variants it forces (null: cannot run here). */
async function deviceFor(
  dev: Device,
  spec: OpSpec,
  open: (kernels: KernelChoices) => Promise<Device>,
  opened: Map<string, Device>,
): Promise<Device | null> {
  if (!spec.kernels) return dev;
  const forced = parseKernelChoices(spec.kernels, `spec ${spec.name}`);
  for (const [op, variant] of Object.entries(forced)) {
    const why = unavailable(dev, op as KernelOp, variant);
    if (why) {
      log(`fuzz: skipping ${spec.name}: this adapter cannot run ${op}:${variant} (${why})`);
      return null;
    }
  }
  const choices = { ...dev.kernelChoices, ...forced };
  const key = JSON.stringify(Object.entries(choices).sort());
  if (key === JSON.stringify(Object.entries(dev.kernelChoices).sort())) return dev;
  let d = opened.get(key);
  if (!d) {
    d = await open(choices);
    opened.set(key, d);
    installHooks(d);
  }
  return d;
}

async function rounds(
  specs: OpSpec[],
  devices: Map<OpSpec, Device>,
  o: FuzzOptions,
  checkCase: (d: Device, s: OpSpec, c: OpCase) => Promise<void>,
): Promise<{ cases: number; failures: number }> {
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
        fc.asyncProperty(spec.arb, (c) => checkCase(devices.get(spec)!, spec, c)),
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
