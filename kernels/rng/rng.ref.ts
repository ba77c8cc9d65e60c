// CPU oracle of the philox_fill kernel (rng.wgsl), for the rng property specs: `rows` rows of n
// draws where row q is elements offset .. offset + n - 1 of stream (s0, s1 + q), as raw u32 or as
// uniforms (u >>> 8) * 2^-24. Built on the production CPU Philox (philox.ts), which the GPU must
// match bit for bit.
import { philoxU32, philoxUniform, streamWords, type StreamWords } from './philox.ts';

export function philoxRowsRef(
  seed: number,
  stream: number | StreamWords,
  rows: number,
  n: number,
  offset: number,
  uniform: boolean,
): Float32Array | Uint32Array {
  const [s0, s1] = streamWords(stream);
  const out = uniform ? new Float32Array(rows * n) : new Uint32Array(rows * n);
  for (let q = 0; q < rows; q++) {
    out.set(uniform ? philoxUniform(seed, [s0, s1 + q], n, offset) : philoxU32(seed, [s0, s1 + q], n, offset), q * n);
  }
  return out;
}
