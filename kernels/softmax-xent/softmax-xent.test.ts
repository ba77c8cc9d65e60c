// Example tests for the fused softmax cross-entropy beyond the property spec: argument errors name
// the op and the shapes, hand-computed values, logits far beyond exp's f32 range, skipped and
// out-of-range rows, and a bit-reproducible row sum. The GPU-vs-reference properties live in
// the spec (kernels/ops.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { gpuDevice, closeDevice } from '../../tests/gpu.ts';
import { softmaxCrossEntropy, softmaxCrossEntropyRows } from './softmax-xent.ts';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('bad arguments throw EngineErrors that name the op and the shapes', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(() => {
    const x = tensor(rt, new Float32Array(6), [2, 3], 'f32', 'logits');
    const t = tensor(rt, [0, 1], [2], 'i32', 'targets');
    const w = tensor(rt, [1, 1], [2], 'f32', 'weights');
    const t3 = tensor(rt, [0, 1, 2], [3], 'i32', 'targets');
    const tf = tensor(rt, [0, 1], [2], 'f32', 'targets');
    const x1 = tensor(rt, new Float32Array(6), [6], 'f32', 'logits');
    assert.throws(
      () => softmaxCrossEntropy(x, t3, w),
      /softmaxCrossEntropy: targets and weights must have one entry per row.*logits \[2, 3\].*targets \[3\].*weights \[2\]/,
    );
    assert.throws(
      () => softmaxCrossEntropy(x, tf, w),
      /softmaxCrossEntropy: expected i32 tensor, got f32 targets \[2\]/,
    );
    assert.throws(
      () => softmaxCrossEntropyRows(x1, t, w),
      /softmaxCrossEntropyRows: logits must have rank 2, got \[6\]/,
    );
    assert.throws(() => softmaxCrossEntropy(x, t, w, { lanes: 3 }), /lanes must be a power of two/);
    const wg = tensor(rt, [1, 1], [2], 'f32', 'weights');
    wg.requiresGrad = true;
    assert.throws(
      () => softmaxCrossEntropy(x, t, wg),
      /softmaxCrossEntropy: weights must not require grad.*weights \[2\]/,
    );
    x.dispose();
    assert.throws(
      () => softmaxCrossEntropy(x, t, w),
      /softmaxCrossEntropy: tensor logits \[2, 3\] was used after dispose/,
    );
  });
});

test('hand-computed losses and gradients, for every row layout', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  for (const lanes of [undefined, 1, 4, 64]) {
    await rt.scope(async () => {
      // row 0: uniform over 4, CE = ln 4, weight 2; row 1: exp = [1, 3, 1, 1], target 1: p = 1/2, CE = ln 2
      const x = tensor(rt, [0, 0, 0, 0, 0, Math.log(3), 0, 0], [2, 4], 'f32', 'logits');
      const t = tensor(rt, [2, 1], [2], 'i32', 'targets');
      const w = tensor(rt, [2, 0.5], [2], 'f32', 'weights');
      x.requiresGrad = true;
      const rows = await softmaxCrossEntropyRows(x, t, w, { lanes }).read();
      close(rows[0], 2 * Math.log(4), 1e-6, `row 0 lanes ${lanes}`);
      close(rows[1], 0.5 * Math.log(2), 1e-6, `row 1 lanes ${lanes}`);
      const loss = softmaxCrossEntropy(x, t, w, { lanes });
      close((await loss.read())[0], 2 * Math.log(4) + 0.5 * Math.log(2), 1e-6, `sum lanes ${lanes}`);
      backward(loss);
      const g = await x.grad!.read();
      const want = [0.5, 0.5, -1.5, 0.5, 1 / 12, -1 / 4, 1 / 12, 1 / 12];
      want.forEach((v, i) => close(g[i], v, 1e-6, `dlogits[${i}] lanes ${lanes}`));
    });
  }
});

test('logits of magnitude 1e4 and 1e38 do not overflow', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(async () => {
    // a naive exp(x) overflows f32 above ~88.7; all three rows are two-way ties or near-certain
    const x = tensor(rt, [1e4, 1e4, 0, -1e4, 1e38, 1e38, 1e38, 1e38, -3e38, 3e38, 2e4, -2e4], [3, 4], 'f32', 'logits');
    const t = tensor(rt, [0, 3, 1], [3], 'i32', 'targets');
    const w = tensor(rt, [1, 1, 1], [3], 'f32', 'weights');
    x.requiresGrad = true;
    const loss = softmaxCrossEntropyRows(x, t, w);
    const rows = await loss.read();
    close(rows[0], Math.log(2), 1e-6, 'tie at 1e4');
    close(rows[1], Math.log(4), 1e-6, 'four-way tie at 1e38');
    close(rows[2], 0, 0, 'target is the max by 3e38');
    backward(loss, tensor(rt, [1, 1, 1], [3]));
    const g = await x.grad!.read();
    [-0.5, 0.5, 0, 0, 0.25, 0.25, 0.25, -0.75, 0, 0, 0, 0].forEach((v, i) => close(g[i], v, 1e-6, `dlogits[${i}]`));
    assert.ok(
      g.every((v) => Number.isFinite(v)),
      `finite gradients: ${Array.from(g).join(',')}`,
    );
  });
});

test('weight 0 and target < 0 rows are skipped; target >= V gives NaN, never a plausible number', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  for (const v of [4, 5]) {
    await rt.scope(async () => {
      const x = tensor(
        rt,
        Float32Array.from({ length: 4 * v }, (_, i) => Math.sin(i)),
        [4, v],
        'f32',
        'logits',
      );
      const t = tensor(rt, [1, -1, v, v + 7], [4], 'i32', 'targets');
      const w = tensor(rt, [0, 2, 1, 0], [4], 'f32', 'weights');
      x.requiresGrad = true;
      const loss = softmaxCrossEntropyRows(x, t, w);
      const rows = await loss.read();
      assert.is(rows[0], 0);
      assert.is(rows[1], 0);
      assert.ok(Number.isNaN(rows[2]), `row 2 (target ${v} >= V) is ${rows[2]}`);
      assert.is(rows[3], 0, 'weight 0 wins over a bad target');
      backward(loss, tensor(rt, [1, 1, 1, 1], [4]));
      const g = await x.grad!.read();
      for (let j = 0; j < v; j++) {
        assert.is(g[j], 0);
        assert.is(g[v + j], 0);
        assert.ok(Number.isNaN(g[2 * v + j]));
        assert.is(g[3 * v + j], 0);
      }
    });
  }
});

test('the summed loss is bit-reproducible and N = 0 gives 0', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(async () => {
    const n = 777,
      v = 61;
    const x = tensor(
      rt,
      Float32Array.from({ length: n * v }, (_, i) => Math.sin(i * 1.7) * 20),
      [n, v],
      'f32',
      'logits',
    );
    const t = tensor(
      rt,
      Int32Array.from({ length: n }, (_, i) => (i * 13) % v),
      [n],
      'i32',
      'targets',
    );
    const w = tensor(
      rt,
      Float32Array.from({ length: n }, (_, i) => (i % 3) * 0.7),
      [n],
      'f32',
      'weights',
    );
    const a = (await softmaxCrossEntropy(x, t, w).read())[0];
    for (let k = 0; k < 3; k++) assert.is((await softmaxCrossEntropy(x, t, w).read())[0], a);
    const e = softmaxCrossEntropy(tensor(rt, [], [0, 5]), tensor(rt, [], [0], 'i32'), tensor(rt, [], [0]));
    assert.equal(Array.from(await e.read()), [0]);
  });
});

test.after(closeDevice);
test.run();
