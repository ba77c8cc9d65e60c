// CPU reference for the fused softmax cross-entropy (float64): per row i of logits (N, V),
// CE_i = logsumexp(x_i) - x_i[t_i] and the weighted loss w_i * CE_i; rows with w_i = 0 or t_i < 0
// contribute 0 (MDLM supervises masked positions only); a supervised row with t_i >= V is NaN (a
// data bug must not look like a number). The gradient is g * w_i * (softmax(x_i) - onehot(t_i))
// (the standard softmax cross-entropy derivative, e.g. Goodfellow et al., Deep Learning, 6.2.2.3).
// Plain loops over typed arrays; imports nothing from the engine.

function skipped(w: number, t: number): boolean {
  return w === 0 || t < 0;
}

/** Per-row weighted losses w_i * CE_i, (N). */
export function xentRowsRef(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  weights: ArrayLike<number>,
  n: number,
  v: number,
): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const w = weights[i],
      t = targets[i];
    if (skipped(w, t)) continue;
    if (t >= v) {
      out[i] = NaN;
      continue;
    }
    let m = -Infinity;
    for (let j = 0; j < v; j++) m = Math.max(m, logits[i * v + j]);
    let s = 0;
    for (let j = 0; j < v; j++) s += Math.exp(logits[i * v + j] - m);
    out[i] = w * (m - logits[i * v + t] + Math.log(s));
  }
  return out;
}

/** sum_i w_i * CE_i, (1). */
export function xentRef(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  weights: ArrayLike<number>,
  n: number,
  v: number,
): Float64Array {
  const rows = xentRowsRef(logits, targets, weights, n, v);
  let s = 0;
  for (const r of rows) s += r;
  return Float64Array.of(s);
}

/**
 * d(objective)/d(logits), (N, V), given the output gradient: one value for the summed loss
 * (`g.length === 1`) or one per row (the per-row op).
 */
export function xentBackwardRef(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  weights: ArrayLike<number>,
  n: number,
  v: number,
  g: ArrayLike<number>,
): Float64Array {
  const dx = new Float64Array(n * v);
  for (let i = 0; i < n; i++) {
    const w = weights[i],
      t = targets[i];
    if (skipped(w, t)) continue;
    const c = (g.length === 1 ? g[0] : g[i]) * w * (t >= v ? NaN : 1);
    let m = -Infinity;
    for (let j = 0; j < v; j++) m = Math.max(m, logits[i * v + j]);
    let s = 0;
    for (let j = 0; j < v; j++) s += Math.exp(logits[i * v + j] - m);
    for (let j = 0; j < v; j++) dx[i * v + j] = c * (Math.exp(logits[i * v + j] - m) / s - (j === t ? 1 : 0));
  }
  return dx;
}
