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
// While one of our waits is in progress, `waitGpu` swaps the global setImmediate for one that runs
// callbacks at once during the first SPIN_MS of the wait (short waits keep their latency) and after
// a 1 ms timer from then on (one poll per millisecond: at most ~1 ms added to a long wait). Dawn
// reads the global each time it re-queues, so the swap takes effect from its next poll. Anything
// else that calls setImmediate during such a wait is deferred the same way. setImmediate is back
// as soon as no wait is pending; the clearImmediate wrapper stays (it cancels a deferred handle
// whenever it is cleared and hands every other handle to Node's own clearImmediate).

const SPIN_MS = 1;

type Immediate = (cb: (...args: unknown[]) => void, ...args: unknown[]) => unknown;
type Clear = (handle: unknown) => void;

let depth = 0;
let started = 0;
let nativeSet: Immediate | null = null;
let nativeClear: Clear | null = null;
const deferred = new WeakSet<object>();

function politeSet(cb: (...args: unknown[]) => void, ...args: unknown[]): unknown {
  if (performance.now() - started < SPIN_MS) return nativeSet!(cb, ...args);
  const timer = setTimeout(cb, 1, ...args);
  deferred.add(timer);
  return timer;
}

function politeClear(handle: unknown): void {
  if (typeof handle === 'object' && handle !== null && deferred.has(handle)) clearTimeout(handle as ReturnType<typeof setTimeout>);
  else nativeClear!(handle);
}

/** Await `promise` (a Dawn promise: mapAsync, onSubmittedWorkDone, ...) without spinning a core. */
export async function waitGpu<T>(promise: Promise<T>): Promise<T> {
  const g = globalThis as unknown as { setImmediate: Immediate; clearImmediate: Clear };
  if (!nativeClear) {
    nativeClear = g.clearImmediate;
    g.clearImmediate = politeClear;
  }
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
