// CPU reference for softmax over the last axis (float64): y = exp(x - max) / sum exp(x - max), and
// its backward dx = y * (dy - sum(dy * y)). Plain loops, no engine imports, no other axes.

export function softmaxRef(x: ArrayLike<number>, n: number): Float64Array {
  const rows = n === 0 ? 0 : x.length / n;
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, x[o + j]);
    let s = 0;
    for (let j = 0; j < n; j++) s += y[o + j] = Math.exp(x[o + j] - m);
    for (let j = 0; j < n; j++) y[o + j] /= s;
  }
  return y;
}

export function softmaxBackwardRef(x: ArrayLike<number>, n: number, dy: ArrayLike<number>): Float64Array {
  const y = softmaxRef(x, n);
  const dx = new Float64Array(x.length);
  for (let o = 0; o < x.length; o += n) {
    let dot = 0;
    for (let j = 0; j < n; j++) dot += dy[o + j] * y[o + j];
    for (let j = 0; j < n; j++) dx[o + j] = y[o + j] * (dy[o + j] - dot);
  }
  return dx;
}
