// Shared fast-check arbitraries for kernel cases. Values are finite float32 with subnormals
// flushed to zero: GPUs (and lavapipe) may flush denormals, which is not what these tests are about.
import * as fc from 'fast-check';
import type { HalfKind } from './half.ref.ts';

const FTZ = 1.1754943508222875e-38;

export function f32s(n: number, lo = -4, hi = 4): fc.Arbitrary<Float32Array> {
  return fc
    .float32Array({
      min: Math.fround(lo),
      max: Math.fround(hi),
      noNaN: true,
      noDefaultInfinity: true,
      minLength: n,
      maxLength: n,
    })
    .map((a) => a.map((v) => (Math.abs(v) < FTZ ? 0 : v)));
}

export const prod = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/**
 * 16-bit float bits for ops that read bf16/f16 weights, from f32 values: bf16 keeps the top half (a
 * bf16 near the value); f16 takes the sign and 10 mantissa bits and an exponent in [-7, 0], so
 * |value| < 2 with every mantissa pattern and no subnormals (which GPUs may flush).
 */
export function halfBits(vals: Float32Array, kind: HalfKind): Uint16Array {
  const u = new Uint32Array(vals.buffer, vals.byteOffset, vals.length);
  return Uint16Array.from(u, (x) =>
    kind === 'bf16' ? x >>> 16 : ((x >>> 16) & 0x8000) | ((8 + ((x >>> 23) & 7)) << 10) | ((x >>> 13) & 0x3ff),
  );
}
