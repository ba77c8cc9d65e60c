// Shared device for GPU tests. Without an adapter, tests skip visibly, except under CI=true where
// a missing adapter is a failure (DESIGN.md: never a silent skip in CI).
import { openDevice, type Device } from '../engine/device.ts';
import { installHooks } from '../kernels/elementwise/elementwise.ts';

let dev: Promise<Device | null> | null = null;

export function gpuDevice(): Promise<Device | null> {
  dev ??= openDevice()
    .then((d) => {
      installHooks(d);
      return d;
    })
    .catch((e) => {
      if (process.env.CI === 'true') throw e;
      console.warn(`SKIP GPU tests: ${(e as Error).message}`);
      return null;
    });
  return dev;
}

export async function closeDevice(): Promise<void> {
  const d = await dev;
  dev = null;
  await d?.destroy();
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
