// CPU reference for elementwise ops (float64), with NumPy broadcasting. Imports nothing from the
// engine: plain loops over typed arrays.

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';
export type UnaryOp = 'scale' | 'exp' | 'log' | 'neg' | 'sqrt' | 'rsqrt' | 'square' | 'relu' | 'silu';

/** Broadcast result shape (NumPy rules) or null when incompatible. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] | null {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Element strides of `shape` broadcast to `out` (0 where broadcast). */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const strides = new Array<number>(out.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const j = out.length - shape.length + i;
    strides[j] = shape[i] === 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

function apply2(op: BinaryOp, x: number, y: number): number {
  return op === 'add' ? x + y : op === 'sub' ? x - y : op === 'mul' ? x * y : x / y;
}

export function binaryRef(
  op: BinaryOp,
  a: ArrayLike<number>,
  aShape: number[],
  b: ArrayLike<number>,
  bShape: number[],
): Float64Array {
  const shape = broadcastShape(aShape, bShape)!;
  const sa = broadcastStrides(aShape, shape);
  const sb = broadcastStrides(bShape, shape);
  const n = shape.reduce((p, d) => p * d, 1);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let r = i,
      ia = 0,
      ib = 0;
    for (let d = shape.length - 1; d >= 0; d--) {
      const c = r % shape[d];
      r = Math.floor(r / shape[d]);
      ia += c * sa[d];
      ib += c * sb[d];
    }
    out[i] = apply2(op, a[ia], b[ib]);
  }
  return out;
}

/** Sum `g` (shaped `out`) down to `shape` (the reverse of broadcasting). */
export function reduceToShape(g: ArrayLike<number>, outShape: number[], shape: number[]): Float64Array {
  const s = broadcastStrides(shape, outShape);
  const res = new Float64Array(shape.reduce((p, d) => p * d, 1));
  const n = outShape.reduce((p, d) => p * d, 1);
  for (let i = 0; i < n; i++) {
    let r = i,
      k = 0;
    for (let d = outShape.length - 1; d >= 0; d--) {
      const c = r % outShape[d];
      r = Math.floor(r / outShape[d]);
      k += c * s[d];
    }
    res[k] += g[i];
  }
  return res;
}

export function binaryBackwardRef(
  op: BinaryOp,
  a: ArrayLike<number>,
  aShape: number[],
  b: ArrayLike<number>,
  bShape: number[],
  g: ArrayLike<number>,
): [Float64Array, Float64Array] {
  const shape = broadcastShape(aShape, bShape)!;
  let ga: Float64Array;
  if (op === 'add' || op === 'sub') ga = Float64Array.from(g);
  else if (op === 'mul') ga = binaryRef('mul', g, shape, b, bShape);
  else ga = binaryRef('div', g, shape, b, bShape);
  let gb: Float64Array;
  if (op === 'add') gb = Float64Array.from(g);
  else if (op === 'sub') gb = Float64Array.from(g, (v) => -v);
  else if (op === 'mul') gb = binaryRef('mul', g, shape, a, aShape);
  else {
    // d(a/b)/db = -a / b^2
    const ab = binaryRef('div', a, aShape, binaryRef('mul', b, bShape, b, bShape), bShape);
    gb = binaryRef('mul', g, shape, ab, shape).map((v) => -v);
  }
  return [reduceToShape(ga, shape, aShape), reduceToShape(gb, shape, bShape)];
}

export function unaryRef(op: UnaryOp, x: ArrayLike<number>, alpha = 1, beta = 0): Float64Array {
  const f: Record<UnaryOp, (v: number) => number> = {
    scale: (v) => alpha * v + beta,
    exp: Math.exp,
    log: Math.log,
    neg: (v) => -v,
    sqrt: Math.sqrt,
    rsqrt: (v) => 1 / Math.sqrt(v),
    square: (v) => v * v,
    relu: (v) => Math.max(v, 0),
    silu: (v) => v / (1 + Math.exp(-v)),
  };
  return Float64Array.from(x, f[op]);
}

export function unaryBackwardRef(op: UnaryOp, x: ArrayLike<number>, g: ArrayLike<number>, alpha = 1): Float64Array {
  const d: Record<UnaryOp, (v: number) => number> = {
    scale: () => alpha,
    exp: Math.exp,
    log: (v) => 1 / v,
    neg: () => -1,
    sqrt: (v) => 0.5 / Math.sqrt(v),
    rsqrt: (v) => -0.5 * Math.pow(v, -1.5),
    square: (v) => 2 * v,
    relu: (v) => (v > 0 ? 1 : 0),
    silu: (v) => {
      const s = 1 / (1 + Math.exp(-v));
      return s * (1 + v * (1 - s));
    },
  };
  return Float64Array.from(x, (v, i) => d[op](v) * g[i]);
}
