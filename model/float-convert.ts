// Bit-level conversions between IEEE-754 binary32 and the 16-bit float formats checkpoints use:
// bfloat16 (1 sign, 8 exponent, 7 mantissa bits: the top half of a binary32) and binary16
// (1, 5, 10). Decoding is exact; encoding rounds to nearest, ties to even (as PyTorch's .to()),
// NaN stays NaN, f16 overflow goes to +-Inf and tiny values to f16 subnormals or zero.
// Deliberately not here: byte order handling (callers check the host is little-endian, as
// safetensors data is).
// Formats: IEEE 754-2008 section 3.6 (binary16); bfloat16 as in Google's TPU docs / PyTorch c10.

let f16Table: Float32Array | null = null;

/** binary16 bits -> value, all 65536 patterns (subnormals, infinities and NaNs included). */
function f16Lookup(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const man = h & 0x3ff;
    if (exp === 0)
      t[h] = sign * man * 2 ** -24; // zero and subnormals: man * 2^-14 / 2^10
    else if (exp === 31) t[h] = man === 0 ? sign * Infinity : NaN;
    else t[h] = sign * (1 + man / 1024) * 2 ** (exp - 15);
  }
  f16Table = t;
  return t;
}

export function f16BitsToF32(src: Uint16Array, dst: Float32Array): void {
  const t = f16Lookup();
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]]!;
}

export function bf16BitsToF32(src: Uint16Array, dst: Float32Array): void {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
}

/** binary32 -> bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN with its sign. */
export function f32ToBf16Bits(src: Float32Array, dst: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const u = bits[i];
    if ((u & 0x7fffffff) > 0x7f800000) dst[i] = (u >>> 16) | 0x0040;
    else dst[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
  }
}

/** binary32 -> binary16 bits, round to nearest even (subnormal results too); NaN stays a quiet NaN. */
export function f32ToF16Bits(src: Float32Array, dst: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) dst[i] = f16FromF32Bits(bits[i]);
}

function f16FromF32Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let man = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 | (man >>> 13) : 0);
  const e = exp - 127 + 15; // binary16 biased exponent
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal result: value = man' * 2^-24 with the implicit bit made explicit.
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    man |= 0x800000;
    const shift = 14 - e;
    let h = man >>> shift;
    const rem = man & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  // A carry out of the mantissa bumps the exponent, up to Inf: exactly what rounding wants.
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** Convenience for tests and small tensors: one value through binary16 bits. */
export function f16ToF32(bits: number): number {
  return f16Lookup()[bits & 0xffff];
}

export function bf16ToF32(bits: number): number {
  const f = new Float32Array(1);
  bf16BitsToF32(Uint16Array.of(bits), f);
  return f[0];
}

export function f32ToBf16(x: number): number {
  const out = new Uint16Array(1);
  f32ToBf16Bits(Float32Array.of(x), out);
  return out[0];
}

export function f32ToF16(x: number): number {
  const out = new Uint16Array(1);
  f32ToF16Bits(Float32Array.of(x), out);
  return out[0];
}

/**
 * Index of the first NaN or infinity in f32 values, or in 16-bit values given as little-endian
 * bytes, or -1. Non-finite means an all-ones exponent; adding one exponent unit to the masked
 * exponent then carries into the sign bit, so 32-bit words (two 16-bit values, or one f32) are
 * OR-ed a block at a time and only a block that carried is searched: a few hundred ms per GiB.
 */
export function firstNonFinite(data: Float32Array | Uint8Array, kind: 'f32' | 'bf16' | 'f16'): number {
  const [mask, unit, carry] =
    kind === 'f32'
      ? [0x7f800000, 0x00800000, 0x80000000]
      : kind === 'bf16'
        ? [0x7f807f80, 0x00800080, 0x80008000]
        : [0x7c007c00, 0x04000400, 0x80008000];
  let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.byteOffset % 4 !== 0) bytes = bytes.slice(); // a copy starts aligned
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  const per = kind === 'f32' ? 1 : 2; // values per word
  const BLOCK = 4096;
  for (let w0 = 0; w0 < words.length; w0 += BLOCK) {
    const w1 = Math.min(words.length, w0 + BLOCK);
    let acc = 0;
    for (let i = w0; i < w1; i++) acc |= (words[i] & mask) + unit;
    if ((acc & carry) === 0) continue;
    for (let i = w0; i < w1; i++) {
      const c = ((words[i] & mask) + unit) & carry;
      if (c === 0) continue;
      return per === 1 || c & 0x8000 ? i * per : i * per + 1; // the low half comes first
    }
  }
  if (per === 2 && bytes.byteLength % 4 >= 2) {
    const n = bytes.byteLength >>> 1;
    const h = bytes[2 * n - 2] | (bytes[2 * n - 1] << 8);
    if ((((h & mask) + unit) & 0x8000) !== 0) return n - 1;
  }
  return -1;
}
