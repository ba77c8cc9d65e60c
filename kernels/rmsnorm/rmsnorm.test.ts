// RMSNorm misuse errors (op and shapes named), a hand-computed value, every row layout the adapter
// runs agreeing with the reference on a wider row than the property cases use, and bitwise
// repeatable gradients. The property suite (kernels/ops.test.ts) covers the numerics broadly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeDevice, deviceFor, gpuDevice, throwsEngine } from '../../tests/gpu.ts';
import { variantsOf } from '../variants.ts';
import { tensor } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { rmsnorm } from './rmsnorm.ts';
import { rmsnormBackwardRef, rmsnormRef } from './rmsnorm.ref.ts';
import { allclose } from '../check.ts';

test('rmsnorm rejects bad inputs with the op and shapes in the message', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(() => {
    const x = tensor(rt, new Float32Array(10), [2, 5], 'f32', 'x');
    const w4 = tensor(rt, new Float32Array(4), [4], 'f32', 'w');
    throwsEngine(
      () => rmsnorm(x, w4, 1e-5),
      /^rmsnorm: last axis of x must equal weight length 4 \(x \[2, 5\], w \[4\]\)/,
    );
    const w2d = tensor(rt, new Float32Array(5), [1, 5], 'f32', 'w2');
    throwsEngine(() => rmsnorm(x, w2d, 1e-5), /^rmsnorm: weight must have rank 1, got \[1, 5\]/);
    const xi = tensor(rt, new Int32Array(10), [2, 5], 'i32', 'xi');
    const w5 = tensor(rt, new Float32Array(5), [5], 'f32', 'w5');
    throwsEngine(() => rmsnorm(xi, w5, 1e-5), /^rmsnorm: expected f32 tensor, got i32 xi \[2, 5\]/);
    throwsEngine(() => rmsnorm(x, w5, -1), /^rmsnorm: eps must be a finite number >= 0, got -1/);
    const gone = tensor(rt, new Float32Array(10), [2, 5], 'f32', 'gone');
    gone.dispose();
    throwsEngine(() => rmsnorm(gone, w5, 1e-5), /^rmsnorm: tensor gone \[2, 5\] was used after dispose\(\)/);
  });
});

test('rmsnorm of [3, 4] with weight [1, 2] and eps 0 is [3, 8] / sqrt(12.5)', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(async () => {
    const y = await rmsnorm(tensor(rt, [3, 4], [1, 2]), tensor(rt, [1, 2], [2]), 0).read();
    allclose(y, [3 / Math.sqrt(12.5), 8 / Math.sqrt(12.5)], { atol: 0, rtol: 3e-7 }, 'rmsnorm([3, 4])');
  });
});

test('every row layout matches the reference on rows of C = 1000, forward and backward', async () => {
  const rows = 19,
    c = 1000;
  const xs = Float32Array.from({ length: rows * c }, (_, i) => Math.fround(Math.sin(i * 1.7) * 3));
  const ws = Float32Array.from({ length: c }, (_, i) => Math.fround(1 + 0.5 * Math.cos(i)));
  const gs = Float32Array.from({ length: rows * c }, (_, i) => Math.fround(Math.cos(i * 0.3)));
  const want = rmsnormRef(xs, ws, c, 1e-5);
  const [wdx, wdw] = rmsnormBackwardRef(xs, ws, c, 1e-5, gs);
  for (const layout of variantsOf('rmsnorm')) {
    const rt = await deviceFor(`rmsnorm:${layout}`);
    if (!rt) continue;
    await rt.scope(async () => {
      const x = tensor(rt, xs, [rows, c], 'f32', 'x');
      const w = tensor(rt, ws, [c], 'f32', 'w');
      x.requiresGrad = w.requiresGrad = true;
      const y = rmsnorm(x, w, 1e-5);
      allclose(await y.read(), want, { atol: 1e-5, rtol: 1e-4 }, `${layout} forward`);
      backward(y, tensor(rt, gs, [rows, c]));
      allclose(await x.grad!.read(), wdx, { atol: 1e-5, rtol: 1e-4 }, `${layout} dx`);
      allclose(await w.grad!.read(), wdw, { atol: 1e-4, rtol: 1e-4 }, `${layout} dw`);
      x.grad!.dispose();
      w.grad!.dispose();
    });
  }
});

test('rmsnorm gradients are bitwise repeatable (no atomics)', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const rows = 300,
    c = 37; // 10 chunks of partial weight-gradient sums
  const xs = Float32Array.from({ length: rows * c }, (_, i) => Math.fround(Math.sin(i * 0.77)));
  const run = () =>
    rt.scope(async () => {
      const x = tensor(rt, xs, [rows, c], 'f32', 'x');
      const w = tensor(rt, new Float32Array(c).fill(1.5), [c], 'f32', 'w');
      x.requiresGrad = w.requiresGrad = true;
      const y = rmsnorm(x, w, 1e-5);
      backward(y, y);
      const out = [Array.from(await x.grad!.read()), Array.from(await w.grad!.read())];
      x.grad!.dispose();
      w.grad!.dispose();
      return out;
    });
  assert.equal(await run(), await run());
});

test.after(closeDevice);
test.run();
