// Waiting on the GPU without holding a CPU core.
//
// dawn.node (npm `webgpu`) learns that GPU work has finished by calling Dawn's ProcessEvents from a
// callback that it re-queues with the global `setImmediate` for as long as any of its promises is
// pending (its AsyncRunner). That is a busy loop on the main thread for the whole wait. On a real
// GPU it only burns a core; on a CPU adapter (lavapipe, SwiftShader, WARP) it takes that core from
// the very work being waited for: on the 2-core development VM the two lavapipe workers got 600 ms
// of CPU each in a 1.1 s wait while the main thread spun for 850 ms, and the same dispatches ran
// 1.85x faster once the loop slept.
//
// While one of our waits is in progress, `waitGpu` swaps the global setImmediate for one that, after
// the first SPIN_MS of the wait (short waits keep their latency), first sleeps the thread for a
// while (Atomics.wait: no CPU) and then queues the callback as usual. The sleep grows with the wait
// (1/16 of the time waited so far, from 50 us up to 1 ms), so a wait overshoots its end by at most
// ~6% and never more than 1 ms, while the poller's CPU use drops to a few percent. Dawn reads the
// global at every re-queue, so the swap takes effect from its next poll. Anything else that calls
// setImmediate during such a wait sleeps the same way. setImmediate is back as soon as no wait is
// pending.
//
// In a browser tab there is no setImmediate to swap (the browser's own event loop delivers GPU
// completions, without a busy loop), the main thread may not block in Atomics.wait, and
// SharedArrayBuffer exists only on cross-origin-isolated pages: there waitGpu is a plain await, and
// nothing of the above is touched until a wait runs under Node. This is the wait half of the
// platform seam (engine/gpu-device.ts is the device half).

const SPIN_MS = 1;
const MIN_SLEEP_MS = 0.05;
const MAX_SLEEP_MS = 1;

type Immediate = (cb: (...args: unknown[]) => void, ...args: unknown[]) => unknown;

let depth = 0;
let started = 0;
let nativeSet: Immediate | null = null;
let sleeper: Int32Array | null = null;

function politeSet(cb: (...args: unknown[]) => void, ...args: unknown[]): unknown {
  const waited = performance.now() - started;
  if (waited >= SPIN_MS) Atomics.wait(sleeper!, 0, 0, Math.min(MAX_SLEEP_MS, Math.max(MIN_SLEEP_MS, waited / 16)));
  return nativeSet!(cb, ...args);
}

/** Await `promise` (a Dawn promise: mapAsync, onSubmittedWorkDone, ...) without spinning a core. */
export async function waitGpu<T>(promise: Promise<T>): Promise<T> {
  const g = globalThis as unknown as { setImmediate?: Immediate };
  if (typeof g.setImmediate !== 'function') return promise; // a browser: nothing polls by setImmediate
  sleeper ??= new Int32Array(new SharedArrayBuffer(4));
  if (depth++ === 0) {
    started = performance.now();
    nativeSet = g.setImmediate;
    g.setImmediate = politeSet;
  }
  try {
    return await promise;
  } finally {
    if (--depth === 0) g.setImmediate = nativeSet!;
  }
}
