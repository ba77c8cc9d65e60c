// CPU reference of the sampling pick (float64): CFG combine, suppression, argmax of l/T + Gumbel
// noise (the same Philox draws as the GPU), confidence = softmax probability of the pick.
import { philoxU32, type StreamWords } from '../rng/philox.ts';

export interface PickParams {
  V: number;
  rows: number;
  cfg: number; // > 0: rows..2*rows of logits are the unconditional logits
  temperature: number;
  seed: number;
  stream: StreamWords;
  suppress: number[];
}

export function pickRef(logits: ArrayLike<number>, p: PickParams): Float64Array {
  const out = new Float64Array(p.rows * 2);
  const noise = p.temperature > 0 ? philoxU32(p.seed, p.stream, p.rows * p.V) : null;
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
      id = 0;
    for (let v = 0; v < p.V; v++) {
      let s = l[v];
      if (noise) {
        const u = ((noise[r * p.V + v] >>> 8) + 0.5) * 2 ** -24;
        s = l[v] / p.temperature - Math.log(-Math.log(u));
      }
      if (s > best) {
        best = s;
        id = v;
      }
    }
    let m = -Infinity;
    for (const x of l) m = Math.max(m, x);
    let sum = 0;
    for (const x of l) sum += Math.exp(x - m);
    out[r * 2] = id;
    out[r * 2 + 1] = Math.exp(l[id] - m) / sum;
  }
  return out;
}
