// 16-bit (bf16 / f16) embedding tables bound in row ranges: with maxStorageBufferBindingSize
// lowered to 64 KiB (openDevice({ limits })), the gather of a frozen 16-bit table over several
// ranges must equal the unsplit gather and the reference on the decoded table. Odd C makes the
// launcher keep every range on an even row (4-byte aligned) and takes the aligned-copy path.
import { test } from 'uvu';
import * as fc from 'fast-check';
import { openDevice, type Device } from '../engine/device.ts';
import { tensor } from '../engine/tensor.ts';
import { embedding } from '../kernels/embedding/embedding.ts';
import { embeddingRef } from '../kernels/embedding/embedding.ref.ts';
import { exactEqual } from '../kernels/check.ts';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../model/float-convert.ts';
import { checkProperty, closeDevice, gpuDevice, seededFloats } from './gpu.ts';

const LIMIT = 65536;
let small: Device | null = null;
async function devices(): Promise<[Device, Device] | null> {
  const rt = await gpuDevice();
  if (!rt) return null;
  small ??= await openDevice({ limits: { maxStorageBufferBindingSize: LIMIT } });
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

test.after(async () => {
  await small?.destroy();
  small = null;
  await closeDevice();
});
test.run();
