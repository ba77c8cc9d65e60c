// CPU reference for RMSNorm over the last axis (float64), as LLaDA's RMSLayerNorm
// (GSAI-ML/LLaDA modeling_llada.py): y = x * rsqrt(mean(x^2) + eps) * w. Imports nothing from the
// engine. Backward, with r = (mean(x^2) + eps)^(-1/2) and dr/dx_j = -r^3 x_j / C:
//   dx_j = r w_j dy_j - (r^3 / C) x_j sum_k w_k dy_k x_k,   dw_j = sum_rows dy_j x_j r.

export function rmsnormRef(x: ArrayLike<number>, w: ArrayLike<number>, c: number, eps: number): Float64Array {
  const rows = x.length / c;
  const y = new Float64Array(x.length);
  for (let i = 0; i < rows; i++) {
    let ss = 0;
    for (let j = 0; j < c; j++) ss += x[i * c + j] * x[i * c + j];
    const r = 1 / Math.sqrt(ss / c + eps);
    for (let j = 0; j < c; j++) y[i * c + j] = x[i * c + j] * r * w[j];
  }
  return y;
}

export function rmsnormBackwardRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  c: number,
  eps: number,
  dy: ArrayLike<number>,
): [Float64Array, Float64Array] {
  const rows = x.length / c;
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(c);
  for (let i = 0; i < rows; i++) {
    let ss = 0;
    let dot = 0;
    for (let j = 0; j < c; j++) {
      const v = x[i * c + j];
      ss += v * v;
      dot += w[j] * dy[i * c + j] * v;
    }
    const r = 1 / Math.sqrt(ss / c + eps);
    for (let j = 0; j < c; j++) {
      const k = i * c + j;
      dx[k] = r * w[j] * dy[k] - ((r * r * r) / c) * x[k] * dot;
      dw[j] += dy[k] * x[k] * r;
    }
  }
  return [dx, dw];
}
