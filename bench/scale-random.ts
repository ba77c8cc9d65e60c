// Fast random bf16 weights for the `bench scale` checkpoint: 8 billion values must come out at
// disk speed, so each value is one table lookup. The table holds, as bf16 bits, the 65536
// equal-probability quantiles of the truncated normal the model's init scheme asks for (inverse
// transform sampling with a 16-bit uniform: far finer than bf16's 8-bit significand resolves);
// each 32-bit draw of sfc32 yields two 16-bit indices.
// Deliberately not here: which std a tensor gets (model/init.ts's initStd), files (scale-checkpoint.ts).
// sfc32: Chris Doty-Humphrey's Small Fast Chaotic generator (PractRand), 128-bit state; seeded
// from (seed, tensor index) and warmed up by 12 draws as PractRand does. bf16 = the top 16 bits of
// the f32, rounded to nearest even (model/float-convert.ts).
import { f32ToBf16Bits } from '../model/float-convert.ts';

export class Sfc32 {
  /** a, b, c, d; the loop in fillFromTable works on locals and stores them back. */
  readonly s = new Int32Array(4);

  constructor(seed: number, stream: number) {
    this.s.set([seed | 0, stream | 0, 0x9e3779b9 | 0, 1]);
    for (let i = 0; i < 12; i++) this.next();
  }

  next(): number {
    const s = this.s;
    const t = (((s[0] + s[1]) | 0) + s[3]) | 0;
    s[3] = (s[3] + 1) | 0;
    s[0] = s[1] ^ (s[1] >>> 9);
    s[1] = (s[2] + (s[2] << 3)) | 0;
    s[2] = (((s[2] << 21) | (s[2] >>> 11)) + t) | 0;
    return t >>> 0;
  }
}

const quantileCache = new Map<number, Float64Array>();

/**
 * The 65536 quantiles of N(0, 1) truncated to [-c, c] at the midpoints of equal-probability bins:
 * the density integrated by the trapezoid rule on a 2^20-interval grid, then inverted by linear
 * interpolation (error far below bf16's resolution).
 */
export function truncatedNormalQuantiles(c: number): Float64Array {
  const hit = quantileCache.get(c);
  if (hit) return hit;
  const G = 1 << 20;
  const h = (2 * c) / G;
  const cdf = new Float64Array(G + 1);
  let prev = Math.exp(-0.5 * c * c);
  for (let i = 1; i <= G; i++) {
    const z = -c + i * h;
    const d = Math.exp(-0.5 * z * z);
    cdf[i] = cdf[i - 1] + 0.5 * (prev + d) * h;
    prev = d;
  }
  const total = cdf[G];
  const out = new Float64Array(65536);
  let j = 0;
  for (let k = 0; k < 65536; k++) {
    const target = ((k + 0.5) / 65536) * total;
    while (cdf[j + 1] < target) j++;
    out[k] = -c + (j + (target - cdf[j]) / (cdf[j + 1] - cdf[j])) * h;
  }
  quantileCache.set(c, out);
  return out;
}

/** bf16 bits of N(0, std^2) truncated at `cutoff` (absolute), indexed by a 16-bit uniform. */
export function bf16NormalTable(std: number, cutoff: number): Uint16Array {
  const q = truncatedNormalQuantiles(cutoff / std);
  const f = Float32Array.from(q, (z) => z * std);
  const out = new Uint16Array(65536);
  f32ToBf16Bits(f, out);
  return out;
}

/** Fill `out` with table[u16] for successive 16-bit halves of the generator's draws. */
export function fillFromTable(out: Uint16Array, table: Uint16Array, rng: Sfc32): void {
  // sfc32's step on locals: a few times faster in V8 than a method call per draw.
  let a = rng.s[0],
    b = rng.s[1],
    c = rng.s[2],
    d = rng.s[3];
  for (let i = 0; i < out.length; i += 2) {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (((c << 21) | (c >>> 11)) + t) | 0;
    out[i] = table[t & 0xffff];
    if (i + 1 < out.length) out[i + 1] = table[t >>> 16];
  }
  rng.s.set([a, b, c, d]);
}
