// CPU reference for matmul and linear (float64 accumulation, plain loops over typed arrays).
// Shapes follow kernels/matmul/matmul.ts: a (..., M, K) or (..., K, M) with transA, b (..., K, N)
// or (..., N, K) with transB; equal batch dims, or one operand of rank 2 shared across the other's
// batch. Gradients: dA = dC op(B)^T and dB = op(A)^T dC, transposed back to the stored layout and
// summed over the batch for a shared operand (standard matrix calculus, e.g. the Matrix Cookbook
// section 2.4). A 16-bit b (bKind bf16/f16, the kernels' B_DTYPE) holds bit patterns, decoded
// exactly (half.ref.ts) before the float64 products. It imports nothing from the engine and makes
// no attempt at speed.
import { halfValues, type HalfKind } from '../half.ref.ts';

export interface MatmulDims {
  batch: number;
  M: number;
  N: number;
  K: number;
  aShared: boolean;
  bShared: boolean;
  outShape: number[];
}

/** Dims of op(a) op(b), or a message saying why the shapes do not multiply. */
export function matmulDims(
  aShape: readonly number[],
  bShape: readonly number[],
  transA = false,
  transB = false,
): MatmulDims | string {
  if (aShape.length < 2 || bShape.length < 2) return 'both operands need rank >= 2';
  const ra = aShape.length,
    rb = bShape.length;
  const [M, Ka] = transA ? [aShape[ra - 1], aShape[ra - 2]] : [aShape[ra - 2], aShape[ra - 1]];
  const [Kb, N] = transB ? [bShape[rb - 1], bShape[rb - 2]] : [bShape[rb - 2], bShape[rb - 1]];
  if (Ka !== Kb) return `inner dimensions differ (K ${Ka} vs ${Kb})`;
  const ba = aShape.slice(0, ra - 2),
    bb = bShape.slice(0, rb - 2);
  let lead: number[];
  if (ba.length === bb.length && ba.every((d, i) => d === bb[i])) lead = ba;
  else if (bb.length === 0) lead = ba;
  else if (ba.length === 0) lead = bb;
  else return 'batch dims must be equal, or one operand must be rank 2 (shared across the batch)';
  const batch = lead.reduce((p, d) => p * d, 1);
  return {
    batch,
    M,
    N,
    K: Ka,
    aShared: ba.length === 0 && lead.length > 0,
    bShared: bb.length === 0 && lead.length > 0,
    outShape: [...lead, M, N],
  };
}

/** Element strides (row, column) of op(x) for x stored (rows, cols), or (cols, rows) when transposed. */
const strides = (rows: number, cols: number, trans: boolean): [number, number] => (trans ? [1, rows] : [cols, 1]);

export function matmulRef(
  a: ArrayLike<number>,
  aShape: number[],
  b: ArrayLike<number>,
  bShape: number[],
  transA = false,
  transB = false,
  bKind?: HalfKind,
): Float64Array {
  const d = matmulDims(aShape, bShape, transA, transB);
  if (typeof d === 'string') throw new Error(`matmulRef: ${d}`);
  if (bKind) b = halfValues(b, bKind);
  const { batch, M, N, K } = d;
  const [sam, sak] = strides(M, K, transA);
  const [sbk, sbn] = strides(K, N, transB);
  const out = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const ao = d.aShared ? 0 : z * M * K,
      bo = d.bShared ? 0 : z * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[ao + m * sam + k * sak] * b[bo + k * sbk + n * sbn];
        out[z * M * N + m * N + n] = s;
      }
    }
  }
  return out;
}

/** Gradients of sum(g * matmul(a, b)) w.r.t. a and b, in their stored layouts. */
export function matmulBackwardRef(
  a: ArrayLike<number>,
  aShape: number[],
  b: ArrayLike<number>,
  bShape: number[],
  g: ArrayLike<number>,
  transA = false,
  transB = false,
  bKind?: HalfKind,
): [Float64Array, Float64Array] {
  const d = matmulDims(aShape, bShape, transA, transB);
  if (typeof d === 'string') throw new Error(`matmulBackwardRef: ${d}`);
  if (bKind) b = halfValues(b, bKind);
  const { batch, M, N, K } = d;
  const [sam, sak] = strides(M, K, transA);
  const [sbk, sbn] = strides(K, N, transB);
  const ga = new Float64Array(a.length),
    gb = new Float64Array(b.length);
  for (let z = 0; z < batch; z++) {
    const ao = d.aShared ? 0 : z * M * K,
      bo = d.bShared ? 0 : z * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        const gv = g[z * M * N + m * N + n];
        for (let k = 0; k < K; k++) {
          const ia = ao + m * sam + k * sak,
            ib = bo + k * sbk + n * sbn;
          ga[ia] += gv * b[ib];
          gb[ib] += gv * a[ia];
        }
      }
    }
  }
  return [ga, gb];
}

/** PyTorch Linear without bias: x (..., in), w (out, in) -> x w^T (..., out). */
export function linearRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  wShape: number[],
  wKind?: HalfKind,
): Float64Array {
  const inF = wShape[1];
  return matmulRef(x, [x.length / inF, inF], w, wShape, false, true, wKind);
}

export function linearBackwardRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  wShape: number[],
  g: ArrayLike<number>,
  wKind?: HalfKind,
): [Float64Array, Float64Array] {
  const inF = wShape[1];
  return matmulBackwardRef(x, [x.length / inF, inF], w, wShape, g, false, true, wKind);
}
