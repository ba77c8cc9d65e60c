// Matmul API tests beyond the property suite (kernels/ops.test.ts runs the specs): misuse throws
// an EngineError naming the op and the shapes, hand-computed products on every kernel variant the
// adapter can run (each forced through a device's kernel override), matmulInto's accumulate, and one
// dispatch per product (also for a shared operand's gradient). It does not re-test numerics on
// random shapes: the specs do that. The adapter-based choice is tested in kernels/variants.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeDevice, deviceFor, gpuDevice, seededFloats, throwsEngine } from '../../tests/gpu.ts';
import { Storage, Tensor, tensor } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { variantsOf } from '../variants.ts';
import { linear, matmul, matmulInto } from './matmul.ts';
import { matmulRef } from './matmul.ref.ts';

const VARIANTS = variantsOf('matmul');

const read = async (t: Tensor) => Array.from(await t.read());

test('shape, rank, dtype and dispose misuse name the op and the shapes', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  rt.tidy(() => {
    const a = tensor(rt, new Float32Array(6), [2, 3], 'f32', 'a');
    const b = tensor(rt, new Float32Array(8), [4, 2], 'f32', 'b');
    throwsEngine(() => matmul(a, b), 'matmul', '[2, 3]', '[4, 2]', 'K 3 vs 4');
    throwsEngine(() => matmul(a, tensor(rt, new Float32Array(3), [3])), 'matmul', 'rank >= 2', '[3]');
    const a3 = tensor(rt, new Float32Array(12), [2, 2, 3]);
    const b3 = tensor(rt, new Float32Array(18), [3, 3, 2]);
    throwsEngine(() => matmul(a3, b3), 'matmul', '[2, 2, 3]', '[3, 3, 2]', 'batch dims');
    const bi = tensor(rt, new Int32Array(6), [3, 2], 'i32', 'idx');
    throwsEngine(() => matmul(a, bi), 'matmul', 'i32', '[3, 2]');
    throwsEngine(() => linear(a, tensor(rt, new Float32Array(8), [4, 2])), 'linear', '[2, 3]', '[4, 2]');
    throwsEngine(() => linear(a, tensor(rt, new Float32Array(3), [3])), 'linear', '[3]');
    const out = tensor(rt, new Float32Array(6), [2, 3]);
    throwsEngine(
      () => matmulInto(out, a, tensor(rt, new Float32Array(6), [3, 2])),
      'matmulInto',
      '[2, 3]',
      'product shape [2, 2]',
    );
    const sq = tensor(rt, new Float32Array(4), [2, 2]);
    throwsEngine(() => matmulInto(sq, sq, sq), 'matmulInto', 'shares a GPU buffer');
    const gone = tensor(rt, new Float32Array(6), [3, 2], 'f32', 'gone');
    gone.dispose();
    throwsEngine(() => matmul(a, gone), 'matmul', 'gone', '[3, 2]', 'after dispose');
  });
});

for (const variant of VARIANTS) {
  test(`${variant}: hand-computed products, transposes, accumulate`, async () => {
    const rt = await deviceFor(`matmul:${variant}`);
    if (!rt) return;
    await rt.scope(async () => {
      const a = tensor(rt, [1, 2, 3, 4], [2, 2]);
      const b = tensor(rt, [5, 6, 7, 8], [2, 2]);
      assert.equal(await read(matmul(a, b)), [19, 22, 43, 50]);
      assert.equal(await read(matmul(a, b, { transA: true })), [26, 30, 38, 44]);
      assert.equal(await read(matmul(a, b, { transB: true })), [17, 23, 39, 53]);
      assert.equal(await read(matmul(a, b, { transA: true, transB: true })), [23, 31, 34, 46]);
      // (1, 3) x (3, 1) and a batch of two sharing b
      const r = tensor(rt, [1, 2, 3], [1, 3]);
      const col = tensor(rt, [4, 5, 6], [3, 1]);
      assert.equal(await read(matmul(r, col)), [32]);
      const ab = tensor(rt, [1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
      assert.equal(await read(matmul(ab, b)), [19, 22, 43, 50, 67, 78, 91, 106]);
      const out = tensor(rt, [1, 1, 1, 1], [2, 2]);
      matmulInto(out, a, b, { accumulate: true });
      assert.equal(await read(out), [20, 23, 44, 51]);
      matmulInto(out, a, b);
      assert.equal(await read(out), [19, 22, 43, 50]);
    });
  });
}

test('operands in exact-size buffers (no room for vec4 reads past the end) still multiply right', async () => {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  for (const variant of VARIANTS) {
    const rt = await deviceFor(`matmul:${variant}`);
    if (!rt) continue;
    const bufA = rt.gpu.createBuffer({ size: 6 * 4, usage, label: 'exact-a' });
    const bufB = rt.gpu.createBuffer({ size: 6 * 4, usage, label: 'exact-b' });
    await rt.scope(async () => {
      const a = new Tensor(rt, new Storage(rt, bufA, false), [2, 3], 'f32', 0, 'a');
      const b = new Tensor(rt, new Storage(rt, bufB, false), [3, 2], 'f32', 0, 'b');
      a.write([1, 2, 3, 4, 5, 6]);
      b.write([1, 0, 0, 1, 1, 1]);
      assert.equal(await read(matmul(a, b)), [4, 5, 10, 11], variant);
    });
    await rt.sync();
    bufA.destroy();
    bufB.destroy();
  }
});

test('many tile rows and the whole-tile FAST case: every output written once, right, plain and accumulated', async () => {
  // The fast kernels walk tiles in groups of tile rows; 293 = 9 full 32-row tiles plus 5 rows, so the
  // last group is partial and the last tile is short. 96x64x36 takes the subgroup kernel's FAST
  // variant (whole tiles, K % 4 == 0, one batch), which the random property shapes rarely reach.
  let seed = 7;
  const rnd = (n: number) => seededFloats(n, seed++);
  const layouts = [
    [false, false],
    [true, true],
    [false, true],
    [true, false],
  ] as const;
  const cases = [
    ...layouts.slice(0, 2).map(([transA, transB]) => ({ M: 293, N: 70, K: 37, transA, transB })),
    ...layouts.map(([transA, transB]) => ({ M: 96, N: 64, K: 36, transA, transB })),
  ];
  for (const variant of VARIANTS) {
    const rt = await deviceFor(`matmul:${variant}`);
    if (!rt) continue;
    for (const { M, N, K, transA, transB } of cases) {
      await rt.scope(async () => {
        const ad = rnd(M * K),
          bd = rnd(K * N),
          c0 = rnd(M * N);
        const a = tensor(rt, ad, transA ? [K, M] : [M, K]);
        const b = tensor(rt, bd, transB ? [N, K] : [K, N]);
        const want = matmulRef(ad, [...a.shape], bd, [...b.shape], transA, transB);
        const got = await read(matmul(a, b, { transA, transB }));
        const out = tensor(rt, c0, [M, N]);
        matmulInto(out, a, b, { transA, transB, accumulate: true });
        const acc = await read(out);
        for (let i = 0; i < M * N; i++) {
          if (Math.abs(got[i] - want[i]) > 1e-4 || Math.abs(acc[i] - want[i] - c0[i]) > 1e-4) {
            assert.unreachable(
              `${variant} ${M}x${N}x${K} transA=${transA} transB=${transB}: [${Math.floor(i / N)}, ${i % N}] got ${got[i]} / accumulated ${acc[i]}, want ${want[i]} (+ ${c0[i]})`,
            );
          }
        }
      });
    }
  }
});

test('one dispatch per product, also for the gradient of a shared operand', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(async () => {
    const x = tensor(rt, new Float32Array(2 * 5 * 6).fill(1), [2, 5, 6]);
    const w = tensor(rt, new Float32Array(6 * 3).fill(0.5), [6, 3]);
    x.requiresGrad = true;
    w.requiresGrad = true;
    const d0 = rt.stats.dispatches;
    const y = matmul(x, w);
    assert.is(rt.stats.dispatches - d0, 1);
    const d1 = rt.stats.dispatches;
    backward(y, tensor(rt, new Float32Array(30).fill(1), [2, 5, 3]));
    // dx, dw (the batch sum folded into K), and one accumulate per leaf gradient.
    assert.is(rt.stats.dispatches - d1, 2 + 2);
    // dw[k, n] = sum over 10 rows of x = 10
    assert.equal(await read(w.grad!), new Array(18).fill(10));
    // a shared across b's batch: the batch sum happens inside the kernel
    const a = tensor(rt, [1, 2, 3, 4], [2, 2]);
    const bb = tensor(rt, [1, 0, 0, 1, 2, 0, 0, 2], [2, 2, 2]);
    a.requiresGrad = true;
    const z = matmul(a, bb, { transA: true });
    const d2 = rt.stats.dispatches;
    backward(z, tensor(rt, new Float32Array(8).fill(1), [2, 2, 2]));
    assert.is(rt.stats.dispatches - d2, 1 + 1);
    // dA (stored (K, M)) = sum_z B_z g_z^T = (I + 2I) ones = 3 everywhere
    assert.equal(await read(a.grad!), [3, 3, 3, 3]);
  });
});

test('empty batches and K = 0 give empty or zero results', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(async () => {
    const a = tensor(rt, [], [0, 2, 3]);
    const b = tensor(rt, [1, 2, 3, 4, 5, 6], [3, 2]);
    b.requiresGrad = true;
    const y = matmul(a, b);
    assert.equal(y.shape, [0, 2, 2]);
    backward(y, tensor(rt, [], [0, 2, 2]));
    assert.equal(await read(b.grad!), [0, 0, 0, 0, 0, 0]);
    const k0 = matmul(tensor(rt, [], [2, 0]), tensor(rt, [], [0, 3]));
    assert.equal(await read(k0), [0, 0, 0, 0, 0, 0]);
  });
});

test('linear: x (..., in) by w (out, in), gradients dx = dy w and dw = dy^T x', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(async () => {
    const x = tensor(rt, [1, 2, 3, 4, 5, 6], [1, 2, 3]);
    const w = tensor(rt, [1, 0, -1, 2, 1, 0], [2, 3]);
    x.requiresGrad = true;
    w.requiresGrad = true;
    const y = linear(x, w);
    assert.equal(y.shape, [1, 2, 2]);
    assert.equal(await read(y), [-2, 4, -2, 13]);
    backward(y, tensor(rt, [1, 0, 0, 1], [1, 2, 2]));
    assert.equal(await read(x.grad!), [1, 0, -1, 2, 1, 0]);
    assert.equal(await read(w.grad!), [1, 2, 3, 4, 5, 6]);
  });
});

test.after(closeDevice);
test.run();
