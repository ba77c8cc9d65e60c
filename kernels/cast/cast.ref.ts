// CPU reference of the f32 -> bf16 / f16 conversion: round to nearest, ties to even, written from
// the formats' definitions with float64 arithmetic (scale to the value's unit in the last place,
// round the quotient, re-encode), not with the kernel's bit tricks, so it is an independent oracle.
// bf16: 8 exponent bits (bias 127), 7 mantissa bits (Google's bfloat16; PyTorch's rounding);
// f16: IEEE 754-2008 binary16, 5 exponent bits (bias 15), 10 mantissa bits. Both keep subnormals;
// too-large values become Inf. NaN becomes a quiet NaN with the input's sign and top payload bits
// (bf16: the top half with the quiet bit set, as PyTorch; f16: the quiet bit and the payload's top
// 9 bits). No engine imports.

import type { HalfKind } from '../half.ref.ts';

const FORMATS = {
  bf16: { man: 7, bias: 127, expBits: 8 },
  f16: { man: 10, bias: 15, expBits: 5 },
} as const;

/** 16-bit pattern of the f32 whose bits are `u`. */
export function halfBitsRef(u: number, kind: HalfKind): number {
  const { man, bias, expBits } = FORMATS[kind];
  const sign = u >>> 31 ? 0x8000 : 0;
  const expAll = (1 << expBits) - 1;
  const inf = sign | (expAll << man);
  const fexp = (u >>> 23) & 0xff,
    fman = u & 0x7fffff;
  if (fexp === 0xff) {
    if (fman === 0) return inf;
    return kind === 'bf16' ? (u >>> 16) | 0x40 : inf | 0x200 | (fman >>> 13);
  }
  const f = new Float32Array(Uint32Array.of(u).buffer)[0];
  const a = Math.abs(f);
  if (a === 0) return sign;
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  e = Math.max(e, 1 - bias); // subnormal range shares the smallest normal's spacing
  const ulp = 2 ** (e - man);
  const q = a / ulp; // exact: a has 24 significant bits
  const fl = Math.floor(q);
  const d = q - fl;
  const r = d > 0.5 || (d === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
  const v = r * ulp;
  if (v >= 2 ** (expAll - bias)) return inf;
  if (v < 2 ** (1 - bias)) return sign | r; // subnormal (or zero): the mantissa is r
  let ve = Math.floor(Math.log2(v));
  while (2 ** ve > v) ve--;
  while (2 ** (ve + 1) <= v) ve++;
  return sign | ((ve + bias) << man) | ((v / 2 ** ve - 1) * 2 ** man);
}

/**
 * castRowsInto's result: dst (B, L, R) 16-bit bits with rows [start, start + Tq) of each batch
 * replaced by src (B, Tq, R), given as f32 bit patterns, converted.
 */
export function castRowsRef(
  dst: ArrayLike<number>,
  srcBits: ArrayLike<number>,
  d: { B: number; L: number; Tq: number; R: number; start: number },
  kind: HalfKind,
): Uint16Array {
  const out = Uint16Array.from(dst);
  for (let b = 0; b < d.B; b++)
    for (let t = 0; t < d.Tq; t++)
      for (let i = 0; i < d.R; i++)
        out[(b * d.L + d.start + t) * d.R + i] = halfBitsRef(srcBits[(b * d.Tq + t) * d.R + i], kind);
  return out;
}
