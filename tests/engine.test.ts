// Engine-level properties: one training step of a 2-layer toy MLP (autograd + fused loss + AdamW)
// on the GPU equals the same step composed from the CPU references; misuse errors name the op and
// the shapes; a warm training step allocates no new GPU buffers; scopes free what they created.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeDevice, gpuDevice } from './gpu.ts';
import { tensor, zeros } from '../engine/tensor.ts';
import { backward } from '../engine/autograd.ts';
import { add } from '../kernels/elementwise/elementwise.ts';
import { linear, matmul } from '../kernels/matmul/matmul.ts';
import { swiglu } from '../kernels/swiglu/swiglu.ts';
import { embedding } from '../kernels/embedding/embedding.ts';
import { softmaxCrossEntropy } from '../kernels/softmax-xent/softmax-xent.ts';
import { adamwStep } from '../kernels/adamw/adamw.ts';
import { linearBackwardRef, linearRef } from '../kernels/matmul/matmul.ref.ts';
import { swigluBackwardRef, swigluRef } from '../kernels/swiglu/swiglu.ref.ts';
import { xentBackwardRef } from '../kernels/softmax-xent/softmax-xent.ref.ts';
import { adamwRef } from '../kernels/adamw/adamw.ref.ts';
import { createConfig } from '../model/config.ts';
import { createModel } from '../model/io.ts';
import { rand } from '../bench/harness.ts';

test('a toy MLP step (autograd + AdamW) on the GPU matches the CPU reference step to 1e-5 relative', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const N = 12,
    I = 7,
    Hd = 10,
    O = 5;
  const x = rand(N * I, 1),
    wa = rand(Hd * I, 2, 0.5),
    wb = rand(Hd * I, 3, 0.5),
    w2 = rand(O * Hd, 4, 0.5);
  const targets = Int32Array.from({ length: N }, (_, i) => (i * 3) % O);
  const weights = Float32Array.from({ length: N }, (_, i) => (i % 4 === 0 ? 0 : 1 / N));
  const opt = { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.05, step: 1 };
  // GPU
  const params = [tensor(rt, wa, [Hd, I]), tensor(rt, wb, [Hd, I]), tensor(rt, w2, [O, Hd])].map((p) => p.keep());
  params.forEach((p) => (p.requiresGrad = true));
  const gpu = await rt.scope(async () => {
    const xt = tensor(rt, x, [N, I]);
    const y = linear(swiglu(linear(xt, params[0]), linear(xt, params[1])), params[2]);
    backward(softmaxCrossEntropy(y, tensor(rt, targets, [N], 'i32'), tensor(rt, weights, [N])));
    const out: Float32Array[] = [];
    for (const p of params) {
      const m = zeros(rt, p.shape),
        v = zeros(rt, p.shape);
      adamwStep(p, p.grad!, m, v, opt);
      out.push((await p.read()) as Float32Array);
    }
    return out;
  });
  // CPU, composed from the references
  const ga = linearRef(x, wa, [Hd, I]),
    gb = linearRef(x, wb, [Hd, I]);
  const h = swigluRef(ga, gb);
  const y = linearRef(h, w2, [O, Hd]);
  const dy = xentBackwardRef(y, targets, weights, N, O, [1]);
  const [dh, dw2] = linearBackwardRef(h, w2, [O, Hd], dy);
  const [dga, dgb] = swigluBackwardRef(ga, gb, dh);
  const [, dwa] = linearBackwardRef(x, wa, [Hd, I], dga);
  const [, dwb] = linearBackwardRef(x, wb, [Hd, I], dgb);
  const cpu = [
    [wa, dwa],
    [wb, dwb],
    [w2, dw2],
  ].map(([p, g]) => adamwRef(p, g, new Float64Array(p.length), new Float64Array(p.length), opt).subarray(0, p.length));
  cpu.forEach((want, k) => {
    want.forEach((w, i) => {
      const got = gpu[k][i];
      assert.ok(Math.abs(got - w) <= 1e-5 * Math.abs(w) + 1e-7, `param ${k}[${i}]: GPU ${got} vs CPU ${w}`);
    });
    // the step moved the parameter: the comparison is not of untouched values
    assert.ok(
      want.some((w, i) => Math.abs(w - [wa, wb, w2][k][i]) > 1e-4),
      `param ${k} changed`,
    );
  });
  params.forEach((p) => {
    p.grad?.dispose();
    p.dispose();
  });
});

test('linear accumulates dW straight into an existing .grad (parameter arenas), equal to grad + dW', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const N = 9,
    I = 6,
    O = 5;
  const x = rand(N * I, 11),
    w = rand(O * I, 12),
    g0 = rand(O * I, 13),
    seed = rand(N * O, 14);
  const wt = tensor(rt, w, [O, I]).keep();
  wt.requiresGrad = true;
  wt.grad = tensor(rt, g0, [O, I]).keep();
  const before = rt.stats.dispatches;
  await rt.scope(() => {
    backward(linear(tensor(rt, x, [N, I]), wt), tensor(rt, seed, [N, O]));
  });
  const got = (await wt.grad.read()) as Float32Array;
  const [, dw] = linearBackwardRef(x, w, [O, I], seed);
  got.forEach((v, i) =>
    assert.ok(Math.abs(v - (g0[i] + dw[i])) <= 1e-5 * (1 + Math.abs(dw[i])), `grad[${i}] ${v} vs ${g0[i] + dw[i]}`),
  );
  assert.is(rt.stats.dispatches - before, 2, 'forward + one dW dispatch (no separate accumulation)');
  wt.grad.dispose();
  wt.dispose();
});

test('misuse errors name the op and the shapes', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const a = tensor(rt, rand(6, 1), [2, 3]);
  const b = tensor(rt, rand(8, 2), [4, 2]);
  assert.throws(() => matmul(a, b), /matmul.*\[2, 3\].*\[4, 2\]/);
  assert.throws(() => add(a, b), /add: shapes \[2, 3\] and \[4, 2\] do not broadcast/);
  const ids = tensor(rt, [0, 1], [2], 'f32');
  assert.throws(() => embedding(ids, b), /embedding.*i32.*f32/);
  b.dispose();
  assert.throws(() => add(a, b), /add: tensor .*\[4, 2\] was used after dispose\(\)/);
  a.dispose();
  ids.dispose();
});

test('after step 2, a training step allocates no new GPU buffers; scopes free everything', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const cfg = createConfig({
    d_model: 16,
    n_heads: 2,
    n_kv_heads: 2,
    n_layers: 1,
    mlp_hidden_size: 24,
    vocab_size: 9,
    embedding_size: 9,
  });
  const m = createModel(cfg, { device: rt, seed: 1 });
  m.params.enableGrad();
  const ids = Int32Array.from({ length: 24 }, (_, i) => i % 9);
  const step = () => {
    m.params.zeroGrads();
    rt.tidy(() =>
      backward(
        softmaxCrossEntropy(
          m.forward({ ids, B: 3, T: 8 }),
          tensor(rt, ids, [24], 'i32'),
          tensor(rt, new Float32Array(24).fill(0.1), [24]),
        ),
      ),
    );
    rt.flush();
  };
  step();
  step();
  await rt.sync();
  const creates = rt.pool.stats.creates,
    inUse = rt.pool.stats.inUseBytes;
  for (let i = 0; i < 3; i++) step();
  await rt.sync();
  assert.is(rt.pool.stats.creates, creates, 'no createBuffer in warm steps');
  assert.is(rt.pool.stats.inUseBytes, inUse, 'every intermediate returned to the pool');
  m.dispose();
});

test.after(closeDevice);
test.run();
