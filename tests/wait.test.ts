// Tests for engine/wait.ts: during a wait, a setImmediate loop like dawn.node's poller runs a few
// times per millisecond at most instead of spinning; short waits still run immediates at once;
// clearImmediate still cancels; nested waits restore the global only when the last one ends; and a
// real GPU readback through the runtime leaves the main thread mostly idle.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { waitGpu } from '../engine/wait.ts';
import { closeDevice, gpuDevice } from './gpu.ts';
import { tensor } from '../engine/tensor.ts';
import { matmul } from '../kernels/matmul/matmul.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A poller like dawn.node's: re-queues itself with the global setImmediate while `live()`. */
function poller(live: () => boolean): { ticksAfter: (t: number) => number } {
  const at: number[] = [];
  const tick = () => {
    at.push(performance.now());
    if (live()) globalThis.setImmediate(tick);
  };
  globalThis.setImmediate(tick);
  return { ticksAfter: (t) => at.filter((x) => x > t).length };
}

test('a self-requeuing setImmediate loop polls a few times per ms at most during a wait, not thousands', async () => {
  const native = globalThis.setImmediate;
  let waiting = true;
  let t0 = performance.now();
  const spinning = poller(() => waiting);
  await sleep(40);
  waiting = false;
  const free = spinning.ticksAfter(t0 + 5);

  waiting = true;
  t0 = performance.now();
  const p = poller(() => waiting);
  await waitGpu(sleep(40));
  waiting = false;
  // The first millisecond spins on purpose (short waits keep their latency); count from 5 ms on.
  const polite = p.ticksAfter(t0 + 5);
  assert.ok(free > 500, `without waitGpu the loop should spin (got ${free} ticks in 35 ms)`);
  // Sleeps of 1/16 of the time waited (5 ms in: 0.3 ms, capped at 1 ms): about 60 polls in 35 ms.
  assert.ok(polite < 150, `with waitGpu it should poll a few times per ms at most (got ${polite} ticks in 35 ms)`);
  assert.is(globalThis.setImmediate, native, 'setImmediate is restored after the wait');
});

test('immediates run at once early in a wait; clearImmediate cancels; nested waits restore last', async () => {
  const native = globalThis.setImmediate;
  const outer = waitGpu(sleep(30));
  let early = 0;
  globalThis.setImmediate(() => early++);
  await Promise.resolve();
  await new Promise<void>((r) => native(r)); // one native turn of the loop
  assert.is(early, 1, 'an immediate queued in the first millisecond runs on the next turn');
  await sleep(5);
  let fired = false;
  const h = globalThis.setImmediate(() => (fired = true));
  globalThis.clearImmediate(h);
  await waitGpu(sleep(5));
  assert.is.not(globalThis.setImmediate, native, 'the inner wait ended but the outer is pending');
  await outer;
  assert.is(globalThis.setImmediate, native);
  await sleep(5);
  assert.is(fired, false, 'clearImmediate cancelled the callback queued during the wait');
  assert.is(await waitGpu(Promise.resolve(42)), 42);
  const lost = await waitGpu(Promise.reject(new Error('lost'))).then(
    () => 'resolved',
    (e: Error) => e.message,
  );
  assert.is(lost, 'lost');
  assert.is(globalThis.setImmediate, native, 'restored after a rejection too');
});

test('a long GPU readback leaves the main thread mostly idle', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(async () => {
    const n = 512;
    const a = tensor(rt, new Float32Array(n * n).fill(1 / n), [n, n]);
    await matmul(a, a).read(); // compile outside the measurement
    const cpu0 = mainThreadCpuMs();
    const t0 = performance.now();
    let c = a;
    for (let i = 0; i < 8; i++) c = matmul(c, a);
    await c.read();
    const wallMs = performance.now() - t0;
    const cpu1 = mainThreadCpuMs();
    if (cpu0 === null || cpu1 === null || wallMs < 100) return; // no /proc, or a GPU too fast to tell
    // Encoding 8 dispatches takes well under a millisecond; a spinning poller would use ~wallMs.
    assert.ok(
      cpu1 - cpu0 < 0.5 * wallMs,
      `main thread used ${cpu1 - cpu0} ms of CPU during a ${wallMs.toFixed(0)} ms wait`,
    );
  });
});

/** CPU time (ms, 10 ms resolution) of the main thread, from Linux /proc; null elsewhere. */
function mainThreadCpuMs(): number | null {
  try {
    const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}

test.after(closeDevice);
test.run();
