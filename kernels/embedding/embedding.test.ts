// Embedding misuse errors (op and shapes named), clamping of out-of-range ids (pinned rows), the
// host CSR layout, and the two backward paths agreeing bit for bit and repeating exactly (no
// atomics) on a case with heavy id repeats. The property suite (kernels/ops.test.ts) covers both
// paths against the reference.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeDevice, gpuDevice, throwsEngine } from '../../tests/gpu.ts';
import { tensor } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { embedding, embeddingCsr } from './embedding.ts';

test('embedding rejects bad inputs with the op and shapes in the message', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(() => {
    const ids = tensor(rt, [0, 1, 2], [3], 'i32', 'ids');
    const table = tensor(rt, new Float32Array(8), [4, 2], 'f32', 'wte');
    throwsEngine(
      () => embedding(tensor(rt, [0, 1], [2], 'f32', 'fids'), table),
      /^embedding: expected i32 tensor, got f32 fids \[2\]/,
    );
    throwsEngine(
      () => embedding(ids, table.view([8], 'flat')),
      /^embedding: table \(V, C\) must have rank 2, got \[8\]/,
    );
    throwsEngine(
      () => embedding(ids, table, { hostIds: Int32Array.from([0, 1]) }),
      /^embedding: hostIds has 2 entries but ids has 3 \(ids \[3\], wte \[4, 2\]\)/,
    );
    throwsEngine(
      () => embedding(ids, tensor(rt, new Float32Array(0), [0, 2], 'f32', 'none')),
      /^embedding: table must have at least one row and one column \(none \[0, 2\]\)/,
    );
    table.dispose();
    throwsEngine(() => embedding(ids, table), /^embedding: tensor wte \[4, 2\] was used after dispose\(\)/);
  });
});

test('out-of-range ids read (and train) the nearest valid row', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(async () => {
    const hostIds = Int32Array.from([2, 0, 2, 7, -1]);
    for (const opts of [{ hostIds }, {}]) {
      const table = tensor(rt, [10, 11, 20, 21, 30, 31], [3, 2], 'f32', 'wte');
      table.requiresGrad = true;
      const y = embedding(tensor(rt, hostIds, [5], 'i32'), table, opts);
      assert.equal(Array.from(await y.read()), [30, 31, 10, 11, 30, 31, 30, 31, 10, 11]);
      backward(y, tensor(rt, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [5, 2]));
      assert.equal(Array.from(await table.grad!.read()), [3 + 9, 4 + 10, 0, 0, 1 + 5 + 7, 2 + 6 + 8]);
    }
  });
});

test('host CSR groups positions by clamped id, ids ascending, positions ascending', () => {
  const { data, unique } = embeddingCsr([5, 1, 5, 9, 1, 5], 6);
  assert.is(unique, 2);
  // uniq [1, 5] | start [0, 2, 6] | pos [1, 4, 0, 2, 3, 5]   (9 clamps to 5)
  assert.equal(Array.from(data), [1, 5, 0, 2, 6, 1, 4, 0, 2, 3, 5]);
});

for (const c of [70, 68])
  test(`CSR and scan backward agree bit for bit and repeat exactly with heavy repeats (C = ${c})`, async () => {
    const rt = await gpuDevice();
    if (!rt) return;
    const n = 500,
      v = 7;
    const hostIds = Int32Array.from({ length: n }, (_, i) => (i * i) % 5);
    const dys = Float32Array.from({ length: n * c }, (_, i) => Math.fround(Math.sin(i * 0.013) * 3));
    const grad = (withHost: boolean) =>
      rt.scope(async () => {
        const table = tensor(rt, new Float32Array(v * c), [v, c], 'f32', 'wte');
        table.requiresGrad = true;
        const y = embedding(tensor(rt, hostIds, [n], 'i32'), table, withHost ? { hostIds } : {});
        backward(y, tensor(rt, dys, [n, c]));
        const g = Array.from(await table.grad!.read());
        table.grad!.dispose();
        return g;
      });
    const a = await grad(true);
    assert.equal(a, await grad(false));
    assert.equal(a, await grad(true));
    assert.ok(
      a.slice(5 * c).every((x) => x === 0),
      'rows never read get zero gradient',
    );
  });

test.after(closeDevice);
test.run();
