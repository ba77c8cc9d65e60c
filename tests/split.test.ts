// Operands larger than one storage binding: a second device whose maxStorageBufferBindingSize is
// lowered to 64 KiB (openDevice({ limits }), what DLLM_WGPU_LIMITS does) forces every split path
// on small random shapes, and each split result must equal the unsplit one on the normal device
// (bit for bit where the arithmetic is the same, else within the op's tolerance) and the float64
// reference: embedding (row ranges, both backward kernels, in-place gradient), softmax
// cross-entropy (row ranges), the LM head fused with cross-entropy and with the sampling pick
// (vocabulary chunks), and linear (row and feature ranges). Seeds print on failure (FC_SEED).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { openDevice, type Device } from '../engine/device.ts';
import { tensor, zeros, type Tensor } from '../engine/tensor.ts';
import { backward } from '../engine/autograd.ts';
import { EngineError } from '../engine/errors.ts';
import { add, installHooks } from '../kernels/elementwise/elementwise.ts';
import { embedding } from '../kernels/embedding/embedding.ts';
import { embeddingBackwardRef, embeddingRef } from '../kernels/embedding/embedding.ref.ts';
import { softmaxCrossEntropy, softmaxCrossEntropyRows } from '../kernels/softmax-xent/softmax-xent.ts';
import { xentBackwardRef, xentRef } from '../kernels/softmax-xent/softmax-xent.ref.ts';
import { lmHeadCrossEntropy } from '../kernels/softmax-xent/lm-head-xent.ts';
import { pickTokens, pickTokensFused } from '../kernels/sample-pick/sample-pick.ts';
import { linear } from '../kernels/matmul/matmul.ts';
import { linearBackwardRef, linearRef } from '../kernels/matmul/matmul.ref.ts';
import { allclose, exactEqual } from '../kernels/check.ts';
import { checkProperty, closeDevice, gpuDevice, seededFloats } from './gpu.ts';

const LIMIT = 65536;
let small: Device | null = null;
async function devices(): Promise<[Device, Device] | null> {
  const rt = await gpuDevice();
  if (!rt) return null;
  if (!small) {
    small = await openDevice({ limits: { maxStorageBufferBindingSize: LIMIT } });
    installHooks(small);
  }
  return [rt, small];
}
const replay = 'node --import tsx tests/split.test.ts';
const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

/** Rows so that rows x rowFloats f32 exceed the lowered limit: 1-3 limits' worth plus some. */
const overLimit = (rowFloats: number) =>
  fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 97 })).map(([k, extra]) => {
    return Math.ceil((k * LIMIT) / (4 * rowFloats)) + extra;
  });

test('the lowered limit is what ops plan with; a binding over it is refused by the engine, never by Dawn', async () => {
  const d = await devices();
  if (!d) return;
  const [rt, s] = d;
  assert.is(s.limits.maxStorageBufferBindingSize, LIMIT);
  assert.is(rt.limits.maxStorageBufferBindingSize, rt.gpu.limits.maxStorageBufferBindingSize);
  await s.scope(() => {
    const a = zeros(s, [LIMIT / 4 + 64], 'f32', 'big');
    try {
      add(a, a);
      assert.unreachable('an elementwise add over 64 KiB should not bind on this device');
    } catch (e) {
      assert.instance(e, EngineError);
      assert.match((e as Error).message, /binding 1 \(Tensor\(big.* over maxStorageBufferBindingSize 65536/);
    }
  });
  await s.sync();
});

test('embedding over table row ranges equals the unsplit gather and gradient', async () => {
  const d = await devices();
  if (!d) return;
  const arb = fc
    .constantFrom(5, 12, 13, 16, 24)
    .chain((c) => fc.record({ c: fc.constant(c), v: overLimit(c), n: fc.integer({ min: 1, max: 40 }) }))
    .chain((p) =>
      fc.record({
        ...constants(p),
        ids: fc.array(fc.integer({ min: -2, max: p.v + 1 }), { minLength: p.n, maxLength: p.n }),
        withHost: fc.boolean(),
        inPlace: fc.boolean(),
      }),
    );
  await checkProperty(
    'embedding split',
    arb,
    async (p) => {
      const { v, c, n } = p;
      const ids = Int32Array.from(p.ids);
      const table = seededFloats(v * c, v + c);
      const g = seededFloats(n * c, 7);
      const run = (rt: Device) =>
        rt.scope(async () => {
          const t = tensor(rt, table, [v, c], 'f32', 'wte');
          t.requiresGrad = true;
          if (p.inPlace) t.grad = zeros(rt, [v, c], 'f32', 'grad:wte');
          const y = embedding(tensor(rt, ids, [n], 'i32'), t, p.withHost ? { hostIds: ids } : {});
          backward(y, tensor(rt, g, [n, c]));
          const out = [await y.read(), await t.grad!.read()];
          t.grad!.dispose();
          return out;
        });
      const [whole, split] = [await run(d[0]), await run(d[1])];
      exactEqual(split[0], whole[0], 'forward, split vs whole');
      exactEqual(split[1], whole[1], 'd_table, split vs whole');
      exactEqual(split[0], embeddingRef(ids, table, v, c), 'forward vs reference');
      allclose(split[1], embeddingBackwardRef(ids, v, c, f64(g)), { atol: 1e-6, rtol: 1e-6 }, 'd_table vs reference');
    },
    6,
    replay,
  );
});

test('softmax cross-entropy over logits row ranges equals the unsplit loss and gradient', async () => {
  const d = await devices();
  if (!d) return;
  const arb = fc
    .integer({ min: 40, max: 3000 })
    .chain((v) => fc.record({ v: fc.constant(v), n: overLimit(v), perRow: fc.boolean() }));
  await checkProperty(
    'xent split',
    arb,
    async ({ v, n, perRow }) => {
      const x = seededFloats(n * v, n + v, 6);
      const t = Int32Array.from({ length: n }, (_, i) => (i % 7 === 3 ? -1 : (i * 7919) % v));
      const w = Float32Array.from({ length: n }, (_, i) => (i % 5 === 1 ? 0 : 1 + (i % 3)));
      const g = seededFloats(perRow ? n : 1, 3);
      const run = (rt: Device) =>
        rt.scope(async () => {
          const xt = tensor(rt, x, [n, v]);
          xt.requiresGrad = true;
          const [tt, wt] = [tensor(rt, t, [n], 'i32'), tensor(rt, w, [n])];
          const loss = perRow ? softmaxCrossEntropyRows(xt, tt, wt) : softmaxCrossEntropy(xt, tt, wt);
          backward(loss, tensor(rt, g, [loss.size]));
          return [await loss.read(), await xt.grad!.read()];
        });
      const [whole, split] = [await run(d[0]), await run(d[1])];
      exactEqual(split[0], whole[0], 'loss, split vs whole');
      exactEqual(split[1], whole[1], 'dlogits, split vs whole');
      if (!perRow) {
        const ref = xentRef(x, t, w, n, v)[0];
        assert.ok(Math.abs(split[0][0] - ref) <= 1e-5 * (1 + Math.abs(ref)), `loss ${split[0][0]} vs ${ref}`);
        allclose(split[1], xentBackwardRef(x, t, w, n, v, f64(g)), { atol: 1e-5, rtol: 1e-5 }, 'dlogits vs ref');
      }
    },
    4,
    replay,
  );
});

/** Random (x, head) for the fused head ops: head (V, C) beyond the limit. */
const headCase = fc.constantFrom(3, 4, 7, 12).chain((c) =>
  fc.record({
    c: fc.constant(c),
    v: overLimit(c),
    n: fc.integer({ min: 1, max: 9 }),
    chunkBytes: fc.constantFrom(undefined, 4096, 12000),
  }),
);

test('the LM head fused with cross-entropy over vocabulary chunks equals linear + softmax cross-entropy', async () => {
  const d = await devices();
  if (!d) return;
  const arb = headCase.chain((p) => fc.record({ ...constants(p), perRow: fc.boolean() }));
  await checkProperty(
    'lm head xent split',
    arb,
    async ({ c, v, n, chunkBytes, perRow }) => {
      const x = seededFloats(n * c, n * c, 2);
      const wh = seededFloats(v * c, v, 1);
      const t = Int32Array.from({ length: n }, (_, i) => (i === 2 ? -1 : (i * 104729 + v - 1) % v));
      const w = Float32Array.from({ length: n }, (_, i) => (i === 1 ? 0 : 0.5 + i / 4));
      const g = seededFloats(perRow ? n : 1, 5);
      const run = (rt: Device, fused: boolean) =>
        rt.scope(async () => {
          const [xt, ht] = [tensor(rt, x, [n, c]), tensor(rt, wh, [v, c])];
          xt.requiresGrad = ht.requiresGrad = true;
          const [tt, wt] = [tensor(rt, t, [n], 'i32'), tensor(rt, w, [n])];
          const loss = fused
            ? lmHeadCrossEntropy(xt, ht, tt, wt, { perRow, maxChunkBytes: chunkBytes })
            : perRow
              ? softmaxCrossEntropyRows(linear(xt, ht), tt, wt)
              : softmaxCrossEntropy(linear(xt, ht), tt, wt);
          backward(loss, tensor(rt, g, [loss.size]));
          return [await loss.read(), await xt.grad!.read(), await ht.grad!.read()];
        });
      const [whole, split] = [await run(d[0], false), await run(d[1], true)];
      const tol = { atol: 1e-5 * Math.sqrt(v), rtol: 1e-5 };
      allclose(split[0], whole[0], tol, 'loss, split vs whole');
      allclose(split[1], whole[1], tol, 'dx, split vs whole');
      allclose(split[2], whole[2], tol, 'dhead, split vs whole');
      // float64 reference through the same formulas
      const logits = linearRef(x, wh, [v, c]);
      const gl = xentBackwardRef(logits, t, w, n, v, f64(g));
      const [dx, dh] = linearBackwardRef(x, wh, [v, c], gl);
      if (!perRow) allclose(split[0], xentRef(logits, t, w, n, v), tol, 'loss vs reference');
      allclose(split[1], dx, tol, 'dx vs reference');
      allclose(split[2], dh, tol, 'dhead vs reference');
    },
    5,
    replay,
  );
});

function constants<T extends object>(p: T): { [K in keyof T]: fc.Arbitrary<T[K]> } {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, fc.constant(v)])) as never;
}

test('the LM head fused with the sampling pick over vocabulary chunks equals linear + pickTokens', async () => {
  const d = await devices();
  if (!d) return;
  const arb = headCase.chain((p) =>
    fc.record({
      ...constants(p),
      temperature: fc.constantFrom(0, 0.8),
      cfg: fc.constantFrom(0, 1.5),
      suppress: fc.boolean(),
    }),
  );
  await checkProperty(
    'lm head pick split',
    arb,
    async ({ c, v, n, chunkBytes, temperature, cfg, suppress }) => {
      const R = cfg > 0 ? 2 * n : n;
      const x = seededFloats(R * c, R + c, 3);
      const wh = seededFloats(v * c, v + 1, 1);
      const noise = {
        block: 1,
        rowsPerSeq: 3,
        start: 2,
        seqs: Array.from({ length: n }, (_, b) => ({ seed: 11 + b, origin: 0, step: 4 })),
      };
      const opts = { temperature, cfgScale: cfg, noise };
      const sup = suppress ? [0, v - 1] : [];
      const run = (rt: Device, fused: boolean) =>
        rt.scope(async () => {
          const [xt, ht] = [tensor(rt, x, [R, c]), tensor(rt, wh, [v, c])];
          const o = { ...opts, suppress: sup };
          const out: Tensor = fused
            ? pickTokensFused(xt, ht, { ...o, maxChunkBytes: chunkBytes })
            : pickTokens(linear(xt, ht), o);
          return out.read();
        });
      const [whole, split] = [await run(d[0], false), await run(d[1], true)];
      exactEqual(
        split.filter((_, i) => i % 2 === 0),
        whole.filter((_, i) => i % 2 === 0),
        'picked ids, split vs whole',
      );
      allclose(
        split.filter((_, i) => i % 2 === 1),
        whole.filter((_, i) => i % 2 === 1),
        { atol: 1e-7, rtol: 1e-5 },
        'confidence, split vs whole',
      );
    },
    6,
    replay,
  );
});

test('linear over row and feature ranges equals the unsplit product and gradients', async () => {
  const d = await devices();
  if (!d) return;
  const arb = fc.record({
    inF: fc.constantFrom(3, 8, 20, 33),
    outF: fc.integer({ min: 1, max: 1200 }),
    rows: fc.integer({ min: 1, max: 1500 }),
    inPlace: fc.boolean(),
  });
  await checkProperty(
    'linear split',
    arb,
    async ({ inF, outF, rows, inPlace }) => {
      const x = seededFloats(rows * inF, rows, 1);
      const w = seededFloats(outF * inF, outF, 1);
      const g = seededFloats(rows * outF, 9, 1);
      const run = (rt: Device) =>
        rt.scope(async () => {
          const [xt, wt] = [tensor(rt, x, [rows, inF]), tensor(rt, w, [outF, inF])];
          xt.requiresGrad = wt.requiresGrad = true;
          if (inPlace) wt.grad = zeros(rt, [outF, inF]);
          const y = linear(xt, wt);
          backward(y, tensor(rt, g, [rows, outF]));
          const out = [await y.read(), await xt.grad!.read(), await wt.grad!.read()];
          wt.grad!.dispose();
          return out;
        });
      const [whole, split] = [await run(d[0]), await run(d[1])];
      const tol = { atol: 4e-6 * Math.max(rows, inF, outF), rtol: 1e-5 };
      allclose(split[0], whole[0], tol, 'y, split vs whole');
      allclose(split[1], whole[1], tol, 'dx, split vs whole');
      allclose(split[2], whole[2], tol, 'dw, split vs whole');
      const [dx, dw] = linearBackwardRef(x, w, [outF, inF], f64(g));
      allclose(split[0], linearRef(x, w, [outF, inF]), tol, 'y vs reference');
      allclose(split[1], dx, tol, 'dx vs reference');
      allclose(split[2], dw, tol, 'dw vs reference');
    },
    5,
    replay,
  );
});

test.after(async () => {
  await small?.destroy();
  small = null;
  await closeDevice();
});
test.run();
