// SwiGLU misuse errors (op and shapes named) and its overflow story: gates far past exp's f32 range
// (up to +-3e38) give finite, exact-limit values forward and backward on both the vec4 and the
// scalar path. The property suite (kernels/ops.test.ts) covers the numerics broadly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeDevice, gpuDevice, throwsEngine } from '../../tests/gpu.ts';
import { tensor } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { swiglu } from './swiglu.ts';
import { swigluBackwardRef, swigluRef } from './swiglu.ref.ts';
import { allclose } from '../check.ts';

test('swiglu rejects bad inputs with the op and shapes in the message', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(() => {
    const g = tensor(rt, new Float32Array(6), [2, 3], 'f32', 'gate');
    const up = tensor(rt, new Float32Array(6), [3, 2], 'f32', 'up');
    throwsEngine(() => swiglu(g, up), /^swiglu: gate and up must have the same shape \(gate \[2, 3\], up \[3, 2\]\)/);
    const ui = tensor(rt, new Int32Array(6), [2, 3], 'i32', 'upi');
    throwsEngine(() => swiglu(g, ui), /^swiglu: expected f32 tensor, got i32 upi \[2, 3\]/);
    g.dispose();
    throwsEngine(() => swiglu(g, g), /^swiglu: tensor gate \[2, 3\] was used after dispose\(\)/);
  });
});

const GATES = [0, 1, -1, 20, -20, 88.8, -88.8, 100, -100, 1e4, -1e4, 1e30, -1e30, 3e38, -3e38, 2.5];

for (const n of [16, 15]) {
  test(`gates up to +-3e38 stay finite and exact in the limit (${n % 4 ? 'scalar' : 'vec4'} path)`, async () => {
    const rt = await gpuDevice();
    if (!rt) return;
    const gs = Float32Array.from(GATES.slice(0, n));
    const us = Float32Array.from({ length: n }, (_, i) => (i % 3) - 0.5);
    const dys = Float32Array.from({ length: n }, (_, i) => 1 - (i % 2) * 0.25);
    await rt.scope(async () => {
      const g = tensor(rt, gs, [n], 'f32', 'gate');
      const up = tensor(rt, us, [n], 'f32', 'up');
      g.requiresGrad = up.requiresGrad = true;
      const y = swiglu(g, up);
      const got = await y.read();
      assert.ok(got.every(Number.isFinite), `forward not finite: ${Array.from(got).join(',')}`);
      allclose(got, swigluRef(gs, us), { atol: 1e-30, rtol: 1e-5 }, 'forward');
      backward(y, tensor(rt, dys, [n]));
      const [wg, wu] = swigluBackwardRef(gs, us, dys);
      const dg = await g.grad!.read();
      const du = await up.grad!.read();
      assert.ok(
        dg.every(Number.isFinite) && du.every(Number.isFinite),
        `backward not finite: ${Array.from(dg).join(',')} ${Array.from(du).join(',')}`,
      );
      // Exact limits: d_gate -> dy * up for g >> 0 and -> 0 for g << 0; d_up = dy * silu(g).
      assert.is(dg[13], dys[13] * us[13]);
      assert.is(Math.abs(dg[14]), 0);
      allclose(dg, wg, { atol: 1e-30, rtol: 4e-5 }, 'd_gate');
      allclose(du, wu, { atol: 1e-30, rtol: 1e-5 }, 'd_up');
      g.grad!.dispose();
      up.grad!.dispose();
    });
  });
}

test.after(closeDevice);
test.run();
