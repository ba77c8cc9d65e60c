// CPU reference of the sampling pick (float64): CFG combine, suppression, argmax of l/T + g with the
// same keyed 53-bit draws as the GPU (noise-key.ts) through the Gumbel transform in float64 (what
// LLaDA's generate.py computes), confidence = noise-free softmax probability of the pick.
import { STREAM_TAG } from '../rng/philox.ts';
import { noiseU53, type NoiseKeys } from './noise-key.ts';

export interface PickParams {
  V: number;
  rows: number;
  cfg: number; // > 0: rows..2*rows of logits are the unconditional logits
  temperature: number;
  noise?: NoiseKeys;
  suppress: number[];
}

const TWO_32 = 4294967296;

/**
 * Gumbel variate -ln(-ln u) in float64 for u = n 2^-54, n = hi 2^32 + lo in [1, 2^54) (noise.wgsl's
 * convention). n itself may not be a double; u < 1/2 and w = 1 - u are, so -ln u = -log(u) below 1/2
 * and -log1p(-w) above.
 */
export function gumbelRef(hi: number, lo: number): number {
  const e =
    hi < 2 ** 21 ? -Math.log((hi * TWO_32 + lo) * 2 ** -54) : -Math.log1p(-((2 ** 22 - hi) * TWO_32 - lo) * 2 ** -54);
  return -Math.log(e);
}

/** n = 2k + 1 as words (hi, lo) for a 53-bit draw k. */
export function drawToN(k: number): [number, number] {
  const khi = Math.floor(k / TWO_32),
    klo = k % TWO_32;
  return [khi * 2 + (klo >= 2 ** 31 ? 1 : 0), ((klo * 2) % TWO_32) + 1];
}

/** Gumbel noise of vocabulary id v at logits row r under `keys`. */
export function noiseRef(keys: NoiseKeys, r: number, v: number): number {
  const q = keys.seqs[Math.floor(r / keys.rowsPerSeq)];
  const position = (keys.start + (r % keys.rowsPerSeq) - q.origin) >>> 0;
  return gumbelRef(...drawToN(noiseU53(q.seed, STREAM_TAG.sampling, keys.block, q.step, position, v)));
}

/** Per row: [token, confidence, margin of the best noised score over the runner-up (Infinity if V = 1)]. */
export function pickRefWithMargin(logits: ArrayLike<number>, p: PickParams): Float64Array {
  const out = new Float64Array(p.rows * 3);
  const noisy = p.temperature > 0;
  if (noisy && !p.noise) throw new Error('pickRef: temperature > 0 needs noise keys');
  for (let r = 0; r < p.rows; r++) {
    const l = new Float64Array(p.V);
    for (let v = 0; v < p.V; v++) {
      let x = logits[r * p.V + v];
      if (p.cfg > 0) {
        const un = logits[(r + p.rows) * p.V + v];
        x = un + (p.cfg + 1) * (x - un);
      }
      if (p.suppress.includes(v)) x = -3.4e38;
      l[v] = x;
    }
    let best = -Infinity,
      second = -Infinity,
      id = 0;
    for (let v = 0; v < p.V; v++) {
      const s = noisy ? l[v] / p.temperature + noiseRef(p.noise!, r, v) : l[v];
      if (s > best) {
        second = best;
        best = s;
        id = v;
      } else if (s > second) second = s;
    }
    let m = -Infinity;
    for (const x of l) m = Math.max(m, x);
    let sum = 0;
    for (const x of l) sum += Math.exp(x - m);
    out[r * 3] = id;
    out[r * 3 + 1] = Math.exp(l[id] - m) / sum;
    out[r * 3 + 2] = best - second;
  }
  return out;
}

/** Per row: [token id, confidence], as the kernel writes them. */
export function pickRef(logits: ArrayLike<number>, p: PickParams): Float64Array {
  const full = pickRefWithMargin(logits, p);
  const out = new Float64Array(p.rows * 2);
  for (let r = 0; r < p.rows; r++) {
    out[2 * r] = full[3 * r];
    out[2 * r + 1] = full[3 * r + 1];
  }
  return out;
}
