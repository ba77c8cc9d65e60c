// CPU reference for the AdamW update (float64): Adam moments with bias correction and decoupled
// weight decay (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2,
// with the schedule multiplier folded into lr, as PyTorch's torch.optim.AdamW):
//   g' = g * scale;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
//   p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p),  mhat = m / (1 - b1^t), vhat = v / (1 - b2^t)
// with the weight decay applied to p before this step's update. Also the global gradient norm
// and the clipping factor. Plain loops; imports nothing from the engine.

export interface AdamwRefOpts {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** The step number t of the first update (1-based); `steps` updates use t, t+1, ... */
  step: number;
}

/** State after `steps` updates with the same gradient, as one (3, n) array: p, then m, then v. */
export function adamwRef(
  p0: ArrayLike<number>,
  g0: ArrayLike<number>,
  m0: ArrayLike<number>,
  v0: ArrayLike<number>,
  o: AdamwRefOpts,
  steps = 1,
  scale = 1,
): Float64Array {
  const n = p0.length;
  const p = Float64Array.from(p0),
    m = Float64Array.from(m0),
    v = Float64Array.from(v0);
  for (let s = 0; s < steps; s++) {
    const t = o.step + s;
    const bc1 = 1 - o.beta1 ** t,
      bc2 = 1 - o.beta2 ** t;
    for (let i = 0; i < n; i++) {
      const g = g0[i] * scale;
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
      p[i] -= o.lr * (m[i] / bc1 / (Math.sqrt(v[i] / bc2) + o.eps) + o.weightDecay * p[i]);
    }
  }
  const out = new Float64Array(3 * n);
  out.set(p, 0);
  out.set(m, n);
  out.set(v, 2 * n);
  return out;
}

/** sum over all tensors of sum_i x_i^2, (1). */
export function gradNormSquaredRef(xs: readonly ArrayLike<number>[]): Float64Array {
  let s = 0;
  for (const x of xs) for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Float64Array.of(s);
}

/** min(1, maxNorm / (sqrt(normSq) + 1e-6)), the gradient clipping multiplier, (1). */
export function clipScaleRef(normSq: number, maxNorm: number): Float64Array {
  return Float64Array.of(Math.min(1, maxNorm / (Math.sqrt(normSq) + 1e-6)));
}
