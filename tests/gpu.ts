// Shared devices for GPU tests: the default one, and one per kernel-variant override a test asks for
// (`deviceFor('matmul:tiled')`), so every variant runs wherever the adapter can run it. Without an
// adapter, tests skip visibly, except under CI=true where a missing adapter is a failure; a variant
// the adapter cannot run (no subgroups, say) skips visibly, in CI too.
import * as fc from 'fast-check';
import * as assert from 'uvu/assert';
import { EngineError } from '../engine/errors.ts';
import { openDevice, type Device } from '../engine/device.ts';
import { installHooks } from '../kernels/elementwise/elementwise.ts';
import { parseKernelChoices } from '../engine/adapter.ts';
import { KERNEL_OPS, kernelPlan, unavailable, variantsOf, type KernelOp } from '../kernels/variants.ts';
import { generateWgslModules } from '../scripts/wgsl-modules.mjs';

// A test run directly (`node --import tsx x.test.ts`, not through bin/run-tests.js) after a .wgsl
// edit would have imported the stale string module already: regenerate it and stop, loudly.
const regenerated = generateWgslModules();
if (regenerated.length)
  throw new Error(
    `WGSL changed since the string modules were generated; regenerated ${regenerated.join(', ')}: run again`,
  );

const devs = new Map<string, Promise<Device | null>>();

/** The default test device (the adapter's variants, or DLLM_WGPU_KERNELS where set). */
export function gpuDevice(): Promise<Device | null> {
  return open('');
}

function open(kernels: string): Promise<Device | null> {
  let d = devs.get(kernels);
  if (!d) {
    d = openDevice({ kernels })
      .then((dev) => {
        installHooks(dev);
        return dev;
      })
      .catch((e) => {
        if (process.env.CI === 'true') throw e;
        console.warn(`SKIP GPU tests: ${(e as Error).message}`);
        return null;
      });
    devs.set(kernels, d);
  }
  return d;
}

/**
 * A device running the kernel variants `kernels` names ('matmul:tiled,attention:portable'): the
 * default device where it already does, else one opened with that override. null (with a SKIP
 * line) where there is no adapter or it cannot run one of the variants.
 */
export async function deviceFor(kernels: string | undefined): Promise<Device | null> {
  const base = await gpuDevice();
  if (!base || !kernels) return base;
  const want = Object.entries(parseKernelChoices(kernels, 'deviceFor'));
  for (const [op, variant] of want) {
    if (!KERNEL_OPS.includes(op as KernelOp) || !(variantsOf(op as KernelOp) as readonly string[]).includes(variant))
      throw new Error(`deviceFor: ${op}:${variant} is not a kernel variant`);
    const why = unavailable(base, op as KernelOp, variant);
    if (why) {
      console.warn(`SKIP ${op}:${variant}: this adapter cannot run it (${why})`);
      return null;
    }
  }
  const plan = kernelPlan(base);
  if (want.every(([op, variant]) => plan[op as KernelOp].variant === variant)) return base;
  return open(kernels);
}

export async function closeDevice(): Promise<void> {
  const all = [...devs.values()];
  devs.clear();
  for (const d of all) await (await d)?.destroy();
}

/** fast-check parameters honouring FC_SEED / FC_PATH (replay) and FC_RUNS (scale). */
export function fcParams(numRuns: number): { seed?: number; path?: string; numRuns: number; endOnFailure: boolean } {
  const p: { seed?: number; path?: string; numRuns: number; endOnFailure: boolean } = {
    numRuns: process.env.FC_RUNS ? Number(process.env.FC_RUNS) : numRuns,
    endOnFailure: true,
  };
  if (process.env.FC_SEED) p.seed = Number(process.env.FC_SEED);
  if (process.env.FC_PATH) p.path = process.env.FC_PATH;
  return p;
}

/**
 * fc.assert with a failure message that carries the cause (the mismatch report), the seed and path,
 * and the command that replays it (fast-check alone prints the counterexample, not the cause).
 */
export async function checkProperty<T>(
  name: string,
  arb: fc.Arbitrary<T>,
  pred: (v: T) => Promise<void>,
  numRuns: number,
  replay: string,
): Promise<void> {
  const p = fcParams(numRuns);
  const r = await fc.check(fc.asyncProperty(arb, pred), p);
  if (!r.failed) return;
  const cause = (r.errorInstance as Error | undefined)?.message ?? String(r.errorInstance);
  throw new Error(
    `${name}: property failed after ${r.numRuns} cases\n  cause: ${cause}\n  seed ${r.seed}, path ${r.counterexamplePath}\n` +
      `  replay: FC_SEED=${r.seed} FC_PATH=${r.counterexamplePath} ${replay}`,
  );
}

/** Assert that `fn` throws an EngineError whose message matches every pattern (regex or substring). */
export function throwsEngine(fn: () => unknown, ...patterns: (RegExp | string)[]): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, EngineError);
    const msg = (e as Error).message;
    for (const p of patterns)
      assert.ok(typeof p === 'string' ? msg.includes(p) : p.test(msg), `"${msg}" should match ${p}`);
    return;
  }
  assert.unreachable(`expected an EngineError matching ${patterns.join(', ')}`);
}

/** n deterministic float32 values in [-lim, lim) from `seed` (a 32-bit LCG): fixed test inputs. */
export function seededFloats(n: number, seed: number, lim = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return Math.fround((s / 2 ** 32 - 0.5) * 2 * lim);
  });
}
