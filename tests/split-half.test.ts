// 16-bit (bf16 / f16) weights bound in row ranges: with maxStorageBufferBindingSize lowered to
// 64 KiB (openDevice({ limits })), the gather of a frozen 16-bit table over several ranges must
// equal the unsplit gather and the reference on the decoded table, and the LM head fused with the
// sampling pick or with cross-entropy over vocabulary chunks of a 16-bit head must equal the
// unsplit linear on the same head (what LLaDA-8B's bf16 head takes). Odd C makes the launchers keep
// every range on an even row (4-byte aligned) and takes the aligned-copy path.
import { test } from 'uvu';
import * as fc from 'fast-check';
import { openDevice, type Device } from '../engine/device.ts';
import { tensor } from '../engine/tensor.ts';
import { embedding } from '../kernels/embedding/embedding.ts';
import { linear } from '../kernels/matmul/matmul.ts';
import { pickTokens, pickTokensFused } from '../kernels/sample-pick/sample-pick.ts';
import { lmHeadCrossEntropy } from '../kernels/softmax-xent/lm-head-xent.ts';
import { softmaxCrossEntropyRows } from '../kernels/softmax-xent/softmax-xent.ts';
import { backward } from '../engine/autograd.ts';
import { installHooks } from '../kernels/elementwise/elementwise.ts';
import { embeddingRef } from '../kernels/embedding/embedding.ref.ts';
import { allclose, exactEqual } from '../kernels/check.ts';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../model/float-convert.ts';
import { checkProperty, closeDevice, gpuDevice, seededFloats } from './gpu.ts';

const LIMIT = 65536;
let small: Device | null = null;
async function devices(): Promise<[Device, Device] | null> {
  const rt = await gpuDevice();
  if (!rt) return null;
  if (!small) {
    small = await openDevice({ limits: { maxStorageBufferBindingSize: LIMIT } });
    installHooks(small); // backward's add/accumulate on this second device
  }
  return [rt, small];
}

test('a 16-bit embedding table over row ranges equals the unsplit gather and the reference', async () => {
  const d = await devices();
  if (!d) return;
  const arb = fc.record({
    dtype: fc.constantFrom('bf16' as const, 'f16' as const),
    c: fc.constantFrom(5, 12, 13, 16, 24),
    k: fc.integer({ min: 1, max: 3 }),
    extra: fc.integer({ min: 1, max: 97 }),
    n: fc.integer({ min: 1, max: 40 }),
    seed: fc.integer({ min: 0, max: 1000 }),
  });
  await checkProperty(
    'embedding 16-bit split',
    arb,
    async (p) => {
      const { c, n, dtype } = p;
      const v = Math.ceil((p.k * LIMIT) / (2 * c)) + p.extra; // over the lowered limit in 16 bits
      const ids = Int32Array.from({ length: n }, (_, i) => ((i * 7919 + p.seed) % (v + 4)) - 2); // some out of range
      const bits = new Uint16Array(v * c);
      (dtype === 'bf16' ? f32ToBf16Bits : f32ToF16Bits)(seededFloats(v * c, p.seed), bits);
      const decoded = new Float32Array(v * c);
      (dtype === 'bf16' ? bf16BitsToF32 : f16BitsToF32)(bits, decoded);
      const run = (rt: Device) =>
        rt.scope(async () => {
          const t = tensor(rt, bits, [v, c], dtype, 'wte');
          return embedding(tensor(rt, ids, [n], 'i32'), t).read();
        });
      const [whole, split] = [await run(d[0]), await run(d[1])];
      exactEqual(split, whole, 'forward, split vs whole');
      exactEqual(split, embeddingRef(ids, decoded, v, c), 'forward vs reference');
    },
    8,
    'node --import tsx tests/split-half.test.ts',
  );
});

test('a 16-bit LM head over vocabulary chunks: fused pick and fused cross-entropy equal the unsplit linear', async () => {
  const d = await devices();
  if (!d) return;
  const arb = fc.record({
    dtype: fc.constantFrom('bf16' as const, 'f16' as const),
    c: fc.constantFrom(7, 16, 24),
    k: fc.integer({ min: 1, max: 3 }),
    extra: fc.integer({ min: 1, max: 97 }),
    n: fc.integer({ min: 1, max: 6 }),
    temperature: fc.constantFrom(0, 0.8),
  });
  await checkProperty(
    'lm head 16-bit split',
    arb,
    async ({ dtype, c, k, extra, n, temperature }) => {
      const v = Math.ceil((k * LIMIT) / (2 * c)) + extra; // the 16-bit head is over the lowered limit
      const bits = new Uint16Array(v * c);
      (dtype === 'bf16' ? f32ToBf16Bits : f32ToF16Bits)(seededFloats(v * c, v + c), bits);
      const x = seededFloats(n * c, n + 5, 2);
      const t = Int32Array.from({ length: n }, (_, i) => (i * 104729 + v - 1) % v);
      const w = Float32Array.from({ length: n }, (_, i) => 0.5 + i / 4);
      const noise = { block: 0, rowsPerSeq: n, start: 0, seqs: [{ seed: 3, origin: 0, step: 1 }] };
      const run = (rt: Device, fused: boolean) =>
        rt.scope(async () => {
          const head = tensor(rt, bits, [v, c], dtype, 'head');
          const xt = tensor(rt, x, [n, c]);
          xt.requiresGrad = true;
          const o = { temperature, noise, suppress: [0] };
          const pick = fused ? pickTokensFused(xt, head, o) : pickTokens(linear(xt, head), o);
          const [tt, wt] = [tensor(rt, t, [n], 'i32'), tensor(rt, w, [n])];
          const loss = fused
            ? lmHeadCrossEntropy(xt, head, tt, wt, { perRow: true })
            : softmaxCrossEntropyRows(linear(xt, head), tt, wt);
          backward(loss, tensor(rt, new Float32Array(n).fill(1), [n]));
          return [await pick.read(), await loss.read(), await xt.grad!.read()] as Float32Array[];
        });
      const [whole, split] = [await run(d[0], false), await run(d[1], true)];
      const even = (a: Float32Array, r: number) => a.filter((_, i) => i % 2 === r);
      exactEqual(even(split[0], 0), even(whole[0], 0), 'picked ids, split vs whole');
      allclose(even(split[0], 1), even(whole[0], 1), { atol: 1e-7, rtol: 1e-5 }, 'confidence, split vs whole');
      const tol = { atol: 1e-5 * Math.sqrt(v), rtol: 1e-5 };
      allclose(split[1], whole[1], tol, 'per-row loss, split vs whole');
      allclose(split[2], whole[2], tol, 'dx through the frozen head, split vs whole');
    },
    6,
    'node --import tsx tests/split-half.test.ts',
  );
});

test.after(async () => {
  await small?.destroy();
  small = null;
  await closeDevice();
});
test.run();
