// Shared fast-check arbitraries for kernel cases. Values are finite float32 with subnormals
// flushed to zero: GPUs (and lavapipe) may flush denormals, which is not what these tests are about.
import * as fc from 'fast-check';

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
