// RoPE misuse errors (op and shapes named), a hand-computed rotation, float64-table accuracy at
// LLaDA-8B's theta = 500000 and positions near 4096, and a backward that still works after the
// cached table grew. The property suite (kernels/ops.test.ts) covers the numerics broadly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeDevice, gpuDevice, throwsEngine } from '../../tests/gpu.ts';
import { tensor } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { rope } from './rope.ts';
import { ropeRef } from './rope.ref.ts';
import { allclose } from '../check.ts';

test('rope rejects bad inputs with the op and shapes in the message', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(() => {
    const odd = tensor(rt, new Float32Array(10), [1, 2, 1, 5], 'f32', 'q');
    throwsEngine(() => rope(odd, { theta: 1e4 }), /^rope: head dim D must be even, got D = 5 \(q \[1, 2, 1, 5\]\)/);
    const r3 = tensor(rt, new Float32Array(8), [2, 1, 4], 'f32', 'k');
    throwsEngine(() => rope(r3, { theta: 1e4 }), /^rope: x \(B, T, H, D\) must have rank 4, got \[2, 1, 4\]/);
    const x = tensor(rt, new Float32Array(2 * 3 * 4), [2, 3, 1, 4], 'f32', 'x');
    throwsEngine(
      () => rope(x, { theta: 1e4, positions: new Int32Array(4) }),
      /^rope: positions must have T = 3 or B\*T = 6 entries, got 4 \(x \[2, 3, 1, 4\]\)/,
    );
    throwsEngine(
      () => rope(x, { theta: 1e4, positions: Int32Array.from([0, -1, 2]) }),
      /^rope: positions must be >= 0, got -1/,
    );
    throwsEngine(
      () => rope(x, { theta: 1e4, positions: 1.5 }),
      /^rope: position offset must be an integer >= 0, got 1.5/,
    );
    throwsEngine(() => rope(x, { theta: 0 }), /^rope: theta must be a finite number > 0, got 0/);
    const xi = tensor(rt, new Int32Array(4), [1, 1, 1, 4], 'i32', 'xi');
    throwsEngine(() => rope(xi, { theta: 1e4 }), /^rope: expected f32 tensor, got i32 xi \[1, 1, 1, 4\]/);
    x.dispose();
    throwsEngine(() => rope(x, { theta: 1e4 }), /^rope: tensor x \[2, 3, 1, 4\] was used after dispose\(\)/);
  });
});

test('rope of (1, 0) at position 1 with D = 2 is (cos 1, sin 1); offset 2 gives angle 2', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(async () => {
    const x = tensor(rt, [1, 0, 1, 0], [1, 2, 1, 2]);
    const y = await rope(x, { theta: 10000, positions: 1 }).read();
    allclose(y, [Math.cos(1), Math.sin(1), Math.cos(2), Math.sin(2)], { atol: 1e-7, rtol: 0 }, 'rope D=2');
  });
});

test('theta 500000, D 128, positions up to 4096: within 1e-6 of the float64 rotation', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const D = 128,
    T = 6;
  const positions = Int32Array.from([0, 1, 2047, 4094, 4095, 4096]);
  const xs = Float32Array.from({ length: T * 2 * D }, (_, i) => Math.fround(Math.sin(i * 0.91)));
  const want = ropeRef(xs, [1, T, 2, D], 500000, positions);
  await rt.scope(async () => {
    const y = await rope(tensor(rt, xs, [1, T, 2, D]), { theta: 500000, positions }).read();
    allclose(y, want, { atol: 1e-6, rtol: 0 }, 'rope at long positions');
  });
  // What the table avoids: the same rotation with the angle formed in f32 is off by far more.
  let worst = 0;
  for (let i = 0; i < D / 2; i++) {
    const inv = Math.fround(1 / Math.fround(Math.pow(500000, Math.fround((2 * i) / D))));
    worst = Math.max(worst, Math.abs(Math.fround(4096 * inv) - 4096 / Math.pow(500000, (2 * i) / D)));
  }
  assert.ok(worst > 1e-4, `f32 angle error ${worst}`);
});

test('a pending backward still works after the cached cos/sin table grows', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const xs = Float32Array.from({ length: 3 * 6 }, (_, i) => i / 7 - 1);
  const gs = Float32Array.from({ length: 3 * 6 }, (_, i) => Math.cos(i));
  await rt.scope(async () => {
    const x = tensor(rt, xs, [1, 3, 1, 6], 'f32', 'x');
    x.requiresGrad = true;
    const y = rope(x, { theta: 777, positions: 5 });
    rope(tensor(rt, xs, [1, 3, 1, 6]), { theta: 777, positions: 100000 }); // grows the (6, 777) table
    backward(y, tensor(rt, gs, [1, 3, 1, 6]));
    allclose(
      await x.grad!.read(),
      ropeRef(gs, [1, 3, 1, 6], 777, 5, -1),
      { atol: 3e-6, rtol: 1e-5 },
      'grad after growth',
    );
    x.grad!.dispose();
  });
});

test.after(closeDevice);
test.run();
