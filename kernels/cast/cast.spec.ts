// Property-test spec of the f32 -> bf16 / f16 row cast (kernels/spec.ts), compared bit for bit:
// random shapes (odd row lengths, so rows end mid-word), row offsets, and f32 bit patterns heavy in
// the cases rounding gets wrong: exact ties (even and odd), NaN payloads of either sign, infinities,
// f16 overflow and its boundary, f32 and f16 subnormals. The destination starts with random bits,
// so a row written past its end, or an old half-word not kept, shows.
import * as fc from 'fast-check';
import type { OpCase, OpSpec } from '../spec.ts';
import type { HalfKind } from '../half.ref.ts';
import { castRowsRef } from './cast.ref.ts';
import { castRowsInto } from './cast.ts';

interface CastCase extends OpCase {
  params: { B: number; L: number; Tq: number; R: number; start: number; kind: HalfKind };
}

/** An f32 bit pattern, drawn to hit rounding's edge cases often. */
const f32Bits: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: 0, max: 0xffffffff }), // anything, NaNs and subnormals included
  // bf16 ties (low half exactly 0x8000) and near-ties
  fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(0x8000, 0x7fff, 0x8001))
    .map(([h, l]) => ((h << 16) | l) >>> 0),
  // f16 range (|x| in [2^-25, 2^16]) with its ties (low 13 bits 0x1000) and near-ties
  fc
    .tuple(
      fc.boolean(),
      fc.integer({ min: 102, max: 143 }),
      fc.integer({ min: 0, max: 0x3ff }),
      fc.constantFrom(0x1000, 0x0fff, 0x1001, 0),
    )
    .map(([s, e, m, l]) => ((s ? 0x80000000 : 0) | (e << 23) | (m << 13) | l) >>> 0),
  // f16 subnormal ties: the bit just below the kept ones set, the rest clear
  fc.tuple(fc.boolean(), fc.integer({ min: 103, max: 112 }), fc.integer({ min: 0, max: 0x7fffff })).map(([s, e, m]) => {
    const shift = 126 - e; // bits of the 24-bit significand that are rounded away
    const keep = (m >>> shift) << shift;
    return ((s ? 0x80000000 : 0) | (e << 23) | keep | (1 << (shift - 1))) >>> 0;
  }),
  fc.constantFrom(
    0x7f800000,
    0xff800000,
    0x7fc00000,
    0xffc00001,
    0x7f800001,
    0x477ff000,
    0x477fefff,
    0x477ff001,
    0x7f7fffff,
    0x80000000,
    0x00000001,
  ),
);

const castArb: fc.Arbitrary<CastCase> = fc
  .record({
    B: fc.integer({ min: 1, max: 3 }),
    L: fc.integer({ min: 1, max: 9 }),
    R: fc.oneof(fc.constantFrom(1, 2, 3, 5, 8), fc.integer({ min: 1, max: 70 })),
    kind: fc.constantFrom<HalfKind>('bf16', 'f16'),
    tq: fc.nat(),
    st: fc.nat(),
  })
  .chain((p) => {
    const Tq = 1 + (p.tq % p.L);
    const start = p.st % (p.L - Tq + 1);
    const n = p.B * Tq * p.R,
      m = p.B * p.L * p.R;
    return fc
      .tuple(
        fc.array(f32Bits, { minLength: n, maxLength: n }),
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: m, maxLength: m }),
      )
      .map(([src, dst]): CastCase => ({
        inputs: [
          { name: 'src', shape: [p.B, Tq, p.R], data: new Float32Array(Uint32Array.from(src).buffer), grad: false },
          { name: 'dst', shape: [p.B, p.L, p.R], data: Uint16Array.from(dst), dtype: p.kind, grad: false },
        ],
        params: { B: p.B, L: p.L, Tq, R: p.R, start, kind: p.kind },
      }));
  });

export const castSpecs: OpSpec<CastCase>[] = [
  {
    name: 'cast.rows',
    kernel: 'cast',
    arb: castArb,
    gpu: (_rt, [src, dst], c) => {
      castRowsInto(dst, src, c.params.start);
      return dst;
    },
    ref: (c) => {
      const s = c.inputs[0].data as Float32Array;
      return castRowsRef(c.inputs[1].data, new Uint32Array(s.buffer, s.byteOffset, s.length), c.params, c.params.kind);
    },
    tol: () => ({ atol: 0, rtol: 0 }),
    exact: true,
  },
];
