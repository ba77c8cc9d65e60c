// Example tests for AdamW beyond the property spec: argument errors name the op and the shapes, a
// hand-computed step, the clip pipeline without readback (gradNormSquared -> clipScale ->
// adamwStep) against the reference, splitting a binding changes no bit of the update, and the norm
// is bit-reproducible.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, empty, type Tensor } from '../../engine/tensor.ts';
import { gpuDevice, closeDevice } from '../../tests/gpu.ts';
import { adamwStep, clipScale, gradNormSquared } from './adamw.ts';
import { adamwRef, gradNormSquaredRef } from './adamw.ref.ts';

const OPTS = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 };
const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
const wave = (n: number, f: number, a = 1) =>
  Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * f + 0.3) * a));

test('bad arguments throw EngineErrors that name the op and the shapes', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(() => {
    const mk = (n: number, label: string) => tensor(rt, new Float32Array(n), [n], 'f32', label);
    const [p, g, m, v] = ['param', 'grad', 'm', 'v'].map((l) => mk(8, l));
    assert.throws(
      () => adamwStep(p, mk(7, 'grad'), m, v, OPTS),
      /adamwStep: param, grad, m and v must have the same number of elements.*param \[8\].*grad \[7\]/,
    );
    assert.throws(
      () => adamwStep(p, g, m, p.view([2, 4], 'v'), OPTS),
      /adamwStep: param and v overlap in one buffer.*param \[8\].*v \[2, 4\]/,
    );
    assert.throws(
      () => adamwStep(p, g, m, v, { ...OPTS, beta2: 1 }),
      /adamwStep: beta1 and beta2 must lie in \[0, 1\).*param \[8\]/,
    );
    assert.throws(() => adamwStep(p, g, m, v, { ...OPTS, step: 0 }), /adamwStep: step must be an integer >= 1/);
    assert.throws(() => adamwStep(p, g, m, v, { ...OPTS, lr: NaN }), /adamwStep: lr must be a finite number/);
    assert.throws(
      () => adamwStep(p, g, m, v, { ...OPTS, gradScale: mk(2, 'scale') }),
      /adamwStep: gradScale must hold one value.*scale \[2\]/,
    );
    assert.throws(
      () => adamwStep(p, tensor(rt, new Int32Array(8), [8], 'i32', 'grad'), m, v, OPTS),
      /adamwStep: expected f32 tensor, got i32 grad \[8\]/,
    );
    assert.throws(() => gradNormSquared([]), /gradNormSquared: needs at least one tensor/);
    assert.throws(() => clipScale(mk(3, 'normSq'), 1), /clipScale: normSq must hold one value.*normSq \[3\]/);
    assert.throws(() => clipScale(mk(1, 'normSq'), 0), /clipScale: maxNorm must be a finite number > 0, got 0/);
    g.dispose();
    assert.throws(() => adamwStep(p, g, m, v, OPTS), /adamwStep: tensor grad \[8\] was used after dispose/);
    assert.throws(() => gradNormSquared([p, g]), /gradNormSquared: tensor grad \[8\] was used after dispose/);
  });
});

test('one hand-computed step (vec4 and scalar paths)', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  for (const n of [8, 7]) {
    await rt.scope(async () => {
      // g = 0.5 at step 1: m = 0.05, v = 2.5e-4, mhat = 0.5, vhat = 0.25, mhat / sqrt(vhat) = 1,
      // so p = 1 - 0.1 * (1 + 0.01 * 1) = 0.899
      const p = tensor(rt, new Float32Array(n).fill(1), [n]);
      const g = tensor(rt, new Float32Array(n).fill(0.5), [n]);
      const m = tensor(rt, new Float32Array(n), [n]);
      const v = tensor(rt, new Float32Array(n), [n]);
      adamwStep(p, g, m, v, OPTS);
      const [pp, mm, vv] = await Promise.all([p.read(), m.read(), v.read()]);
      for (let i = 0; i < n; i++) {
        close(pp[i], 0.899, 2e-7, `p[${i}] n=${n}`);
        close(mm[i], 0.05, 1e-8, `m[${i}] n=${n}`);
        close(vv[i], 2.5e-4, 1e-10, `v[${i}] n=${n}`);
      }
    });
  }
});

test('clipping on the GPU: gradNormSquared -> clipScale -> adamwStep matches the reference', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(async () => {
    const sizes = [5, 1000, 4099];
    const gs = sizes.map((n, k) => wave(n, 0.7 + k, 3));
    const ps = sizes.map((n) => wave(n, 0.31));
    const ms = sizes.map((n) => wave(n, 1.3, 0.1));
    const vs = sizes.map((n) => Float32Array.from(wave(n, 2.1, 0.1), (x) => x * x + 0.01));
    const gt = gs.map((g) => tensor(rt, g, [g.length]));
    const normSq = gradNormSquared(gt);
    const want = gradNormSquaredRef(gs)[0];
    close((await normSq.read())[0], want, 2e-6 * want, 'norm^2');
    const scale = clipScale(normSq, 1.5);
    const wantScale = Math.min(1, 1.5 / (Math.sqrt(want) + 1e-6));
    assert.ok(wantScale < 0.1, 'the case clips');
    close((await scale.read())[0], wantScale, 2e-6 * wantScale, 'clip scale');
    for (let k = 0; k < sizes.length; k++) {
      const [p, m, v] = [ps[k], ms[k], vs[k]].map((a) => tensor(rt, a, [a.length]));
      const o = { ...OPTS, step: 3 };
      adamwStep(p, gt[k], m, v, { ...o, gradScale: scale });
      const r = adamwRef(ps[k], gs[k], ms[k], vs[k], o, 1, wantScale);
      const n = sizes[k];
      const got = [await p.read(), await m.read(), await v.read()];
      for (let i = 0; i < 3 * n; i++)
        close(got[Math.floor(i / n)][i % n], r[i], 1e-6 + 1e-6 * Math.abs(r[i]), `state ${i} of tensor ${k}`);
    }
  });
});

test('splitting the bindings changes no bit; the norm is bit-reproducible', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(async () => {
    const n = 5000;
    const state = () =>
      [wave(n, 0.3), wave(n, 0.9), wave(n, 1.1, 0.1), Float32Array.from(wave(n, 1.7), (x) => x * x)].map((a) =>
        tensor(rt, a, [n]),
      );
    const run = async (maxBindingBytes?: number) => {
      const [p, g, m, v] = state();
      for (let s = 1; s <= 3; s++) adamwStep(p, g, m, v, { ...OPTS, step: s, maxBindingBytes });
      return [...(await p.read()), ...(await m.read()), ...(await v.read())];
    };
    assert.equal(await run(256 * 3), await run());
    const gs: Tensor[] = [tensor(rt, wave(n, 0.77, 2), [n]), tensor(rt, wave(123, 0.5), [123])];
    const a = (await gradNormSquared(gs).read())[0];
    for (let k = 0; k < 3; k++) assert.is((await gradNormSquared(gs).read())[0], a);
    const split = (await gradNormSquared(gs, { maxBindingBytes: 1024 }).read())[0];
    close(split, a, 2e-6 * a, 'split norm');
    const e = empty(rt, [0], 'f32');
    assert.equal(Array.from(await gradNormSquared([e]).read()), [0]);
  });
});

test.after(closeDevice);
test.run();
