// CPU reference decoding of the 16-bit weight formats the kernels read (bf16, f16) into float64, for
// the references of ops that take 16-bit weights. Written from the format definitions, not from the
// engine's or the checkpoint reader's converters, so it is an independent oracle:
// bf16 = the top 16 bits of an IEEE-754 binary32; f16 = IEEE-754 binary16 (1 sign, 5 exponent bits
// biased by 15, 10 mantissa bits; exponent 0 = zero/subnormal, 31 = Inf/NaN). Imports nothing.

export type HalfKind = 'bf16' | 'f16';

export function halfValues(bits: ArrayLike<number>, kind: HalfKind): Float64Array {
  const out = new Float64Array(bits.length);
  const word = new Uint32Array(1);
  const f = new Float32Array(word.buffer);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i] & 0xffff;
    if (kind === 'bf16') {
      word[0] = h << 16;
      out[i] = f[0];
      continue;
    }
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const man = h & 0x3ff;
    if (exp === 0) out[i] = sign * man * 2 ** -24;
    else if (exp === 31) out[i] = man ? NaN : sign * Infinity;
    else out[i] = sign * (1 + man / 1024) * 2 ** (exp - 15);
  }
  return out;
}
