// Softmax beyond the property suite (kernels/ops.test.ts): misuse errors name the op and the
// shape, and a hand-computed case pins the numbers, including logits that overflow exp() without
// the max subtraction.
import { test } from 'uvu';
import { tensor } from '../../engine/tensor.ts';
import { allclose } from '../check.ts';
import { gpuDevice, closeDevice, throwsEngine } from '../../tests/gpu.ts';
import { softmax } from './softmax.ts';

test('softmax: misuse throws EngineError naming the op and the shape', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(() => {
    const x = tensor(rt, new Float32Array(6), [2, 3]);
    throwsEngine(() => softmax(x, 0), 'softmax', 'last axis', 'axis 0', '[2, 3]');
    throwsEngine(() => softmax(x, 2), 'softmax', 'axis 2', '[2, 3]');
    throwsEngine(() => softmax(tensor(rt, new Int32Array(6), [2, 3], 'i32')), 'softmax', 'f32', 'i32', '[2, 3]');
    const dead = tensor(rt, new Float32Array(4), [4]);
    dead.dispose();
    throwsEngine(() => softmax(dead), 'softmax', 'after dispose', '[4]');
  });
});

test('softmax: hand-computed rows, overflow-safe, axis 1 == axis -1 for rank 2', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const x = Float32Array.from([0, Math.log(3), 1000, 1000 + Math.log(3)]);
  const got = await rt.scope(async () => Array.from(await softmax(tensor(rt, x, [2, 2]), 1).read()));
  // Row 2 is row 1 shifted by 1000 (exp(1000) overflows f32): 1/4, 3/4 up to the f32 rounding
  // of 1000 + ln 3, whose exact difference d gives 1 / (1 + e^d).
  const d = x[3] - x[2];
  allclose(
    got,
    [0.25, 0.75, 1 / (1 + Math.exp(d)), 1 - 1 / (1 + Math.exp(d))],
    { atol: 1e-6, rtol: 1e-5 },
    'softmax hand case',
  );
});

test.after(closeDevice);
test.run();
