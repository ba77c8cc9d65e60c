// CPU reference for reductions over one axis (float64). No engine imports.

export type ReduceOp = 'sum' | 'mean' | 'max';

export function splitAxis(shape: readonly number[], axis: number): [number, number, number] {
  const outer = shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  return [outer, shape[axis], inner];
}

export function reduceRef(op: ReduceOp, x: ArrayLike<number>, shape: number[], axis: number): Float64Array {
  const [outer, n, inner] = splitAxis(shape, axis);
  const y = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let acc = op === 'max' ? -Infinity : 0;
      for (let j = 0; j < n; j++) {
        const v = x[(o * n + j) * inner + i];
        acc = op === 'max' ? Math.max(acc, v) : acc + v;
      }
      y[o * inner + i] = op === 'mean' ? acc / n : acc;
    }
  return y;
}

export function reduceBackwardRef(
  op: ReduceOp,
  x: ArrayLike<number>,
  shape: number[],
  axis: number,
  g: ArrayLike<number>,
): Float64Array {
  const [outer, n, inner] = splitAxis(shape, axis);
  const m = op === 'max' ? reduceRef('max', x, shape, axis) : null;
  const gx = new Float64Array(outer * n * inner);
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < n; j++)
      for (let i = 0; i < inner; i++) {
        const k = (o * n + j) * inner + i;
        const r = o * inner + i;
        gx[k] = op === 'sum' ? g[r] : op === 'mean' ? g[r] / n : x[k] === m![r] ? g[r] : 0;
      }
  return gx;
}
