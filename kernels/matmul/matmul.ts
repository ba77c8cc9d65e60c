// Matrix multiply: `matmul` (batched, optional transposes, one operand may be shared across the
// other's batch), `linear` (PyTorch Linear without bias) and `matmulInto` (write or accumulate
// into an existing view, no autograd). Every call is one dispatch: transposes are index math in
// the kernel, a shared operand's gradient sums over the batch inside the kernel (or, where the
// layout allows, by viewing the batch as a longer K or M), never with extra reduce dispatches.
// Three kernels behind one launcher, picked per device by kernels/variants.ts (override: matmul:<name>):
//   subgroup  matmul-subgroup.wgsl  CPU adapters with 8+-lane subgroups (llvmpipe)
//   tiled     matmul-tiled.wgsl     GPUs: shared-memory tiles and barriers
//   portable  matmul.wgsl           anywhere else: no subgroups, no workgroup memory
// The subgroup kernel binds A and B rounded up to 16 bytes (vec4 reads); a view ending exactly at
// the end of its buffer (never a pool buffer) falls back to the portable kernel.
// linear() over operands larger than one storage binding splits them (linear-split.ts).
// Gradient formulas: dA = dC op(B)^T, dB = op(A)^T dC, expressed in each operand's stored layout.
// Weight dtypes: B (the weight in x W^T and dY W) may be bf16 or f16; every kernel decodes it to f32
// as it loads (B_DTYPE) and accumulates in f32. Such a B is a frozen weight: it gets no gradient.
// It deliberately has no bias, no 16-bit activations or outputs, and no split-K: a product with few
// output tiles and a long K (a small weight's gradient) leaves a big GPU mostly idle.
import type { Binding, Overrides, WgslSource } from '../../engine/runtime.ts';
import { empty, fill0, isHalf, shapeStr, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { EngineError } from '../../engine/errors.ts';
import { Uniforms, checkDtype, grid1d, sameShape } from '../util.ts';
import { variantOf, type VariantOf } from '../variants.ts';
import { matmulDims, type MatmulDims } from './matmul.ref.ts';
import MATMUL_WGSL from './matmul.wgsl.ts';
import MATMUL_SUBGROUP_WGSL from './matmul-subgroup.wgsl.ts';
import MATMUL_TILED_WGSL from './matmul-tiled.wgsl.ts';
import { linearFits, linearSplit } from './linear-split.ts';

export type MatmulVariant = VariantOf<'matmul'>;

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

const KERNELS: Record<MatmulVariant, { file: WgslSource; entry: string; tile: number }> = {
  portable: { file: MATMUL_WGSL, entry: 'matmul_portable', tile: 32 },
  subgroup: { file: MATMUL_SUBGROUP_WGSL, entry: 'matmul_subgroup', tile: 32 },
  tiled: { file: MATMUL_TILED_WGSL, entry: 'matmul_tiled', tile: 64 },
};
/** Output tile edge of a variant (the property tests draw sizes around it). */
export const matmulTile = (v: MatmulVariant): number => KERNELS[v].tile;

/** One operand of the kernel: op(x) = x, or x^T when stored transposed; `batched`: one matrix per batch. */
interface Operand {
  t: Tensor;
  trans: boolean;
  batched: boolean;
}

/**
 * out[z] (+)= op(x[z]) op(y[z]) for z < batch, op(x) (M, K), op(y) (K, N). `outBatched` false: one
 * output, the sum over the batch (the gradient of a shared operand).
 */
function gemm(
  op: string,
  out: Tensor,
  outBatched: boolean,
  x: Operand,
  y: Operand,
  batch: number,
  M: number,
  N: number,
  K: number,
  accumulate: boolean,
  variant: MatmulVariant,
): void {
  const rt = out.rt;
  const xs = x.batched ? M * K : 0;
  const ys = y.batched ? K * N : 0;
  let nb = outBatched ? batch : 1;
  let nRed = outBatched ? 1 : batch;
  // A shared y and x rows contiguous across the batch: one (batch*M, K) x (K, N) product.
  if (nb > 1 && x.batched && !y.batched && !x.trans) {
    M *= nb;
    nb = 1;
  }
  // A batch sum where both operands store k as the leading axis: a (batch*K)-long reduction.
  if (nRed > 1 && x.batched && y.batched && x.trans && !y.trans) {
    K *= nRed;
    nRed = 1;
  }
  if (M === 0 || N === 0 || nb === 0) return;
  if (nRed === 0) {
    if (!accumulate) fill0(out); // a sum over an empty batch
    return;
  }
  const maxDim = rt.limits.maxComputeWorkgroupsPerDimension;
  if (nb > maxDim) throw new EngineError(`${op}: batch ${nb} exceeds maxComputeWorkgroupsPerDimension ${maxDim}`);
  let entry = KERNELS[variant].entry;
  const overrides: Overrides = { TRANS_A: x.trans, TRANS_B: y.trans };
  // A 16-bit B is read through binding 4; an f32 one is bound there too (unread), so every
  // variant has one bind group layout whatever B holds.
  if (isHalf(y.t.dtype)) overrides.B_DTYPE = y.t.dtype === 'bf16' ? 1 : 2;
  let bindings: Binding[] = [x.t, y.t, out, y.t];
  if (variant === 'subgroup') {
    // A and B are read as vec4s: bind them rounded up to 16 bytes (pool buffers always have the
    // room; a view at the very end of an exact-size buffer falls back to the portable kernel).
    const ba = vec4Binding(x.t),
      bb = vec4Binding(y.t);
    if (ba && bb) {
      bindings = [ba, bb, out, bb];
      // Each operand is read in 4-float groups along its contiguous axis.
      overrides.ALIGNED_A = (x.trans ? M : K) % 4 === 0;
      overrides.ALIGNED_B = (y.trans ? K : N) % 4 === 0;
      if (N % 4 !== 0) entry = 'matmul_subgroup_n1';
      else {
        // The vec4-store entry's specialisations (the n1 entry reads u.accumulate instead).
        const t = KERNELS.subgroup.tile;
        overrides.FAST = M % t === 0 && N % t === 0 && K % 4 === 0 && nb === 1 && nRed === 1;
        overrides.ACCUMULATE = accumulate;
      }
    } else {
      variant = 'portable';
      entry = KERNELS.portable.entry;
    }
  }
  const tile = KERNELS[variant].tile;
  const tilesM = Math.ceil(M / tile);
  const tilesN = Math.ceil(N / tile);
  const u = new Uniforms()
    .u32(M)
    .u32(N)
    .u32(K)
    .u32(accumulate ? 1 : 0)
    .u32(outBatched ? xs : 0)
    .u32(outBatched ? ys : 0)
    .u32(M * N)
    .u32(nRed)
    .u32(outBatched ? 0 : xs)
    .u32(outBatched ? 0 : ys)
    .u32(tilesN)
    .u32(tilesM);
  const [gx, gy] = grid1d(tilesM * tilesN, maxDim);
  rt.run(rt.kernel(KERNELS[variant].file, entry, overrides), { uniforms: u.bytes(), bindings, grid: [gx, gy, nb] });
}

function vec4Binding(t: Tensor): Binding | null {
  t.assertLive('matmul');
  const size = Math.max(16, Math.ceil(t.byteLength / 16) * 16);
  const fits = t.byteOffset + size <= t.buffer.size && size <= t.rt.limits.maxStorageBufferBindingSize;
  return fits ? { buffer: t.buffer, offset: t.byteOffset, size } : null;
}

/** b may be a 16-bit weight; everything else the kernels read or write is f32. */
function checkWeightDtype(op: string, b: Tensor): void {
  b.assertLive(op);
  if (b.dtype !== 'f32' && !isHalf(b.dtype)) {
    throw new EngineError(`${op}: expected an f32, bf16 or f16 tensor, got ${b.dtype} ${b.label} ${shapeStr(b.shape)}`);
  }
}

/** A 16-bit weight is frozen: asking for its gradient is a bug in the caller. */
function checkNoHalfGrad(op: string, b: Tensor): void {
  if (isHalf(b.dtype) && b.requiresGrad) {
    throw new EngineError(
      `${op}: ${b.label || 'tensor'} ${shapeStr(b.shape)} is ${b.dtype} and requires grad; 16-bit weights are frozen (train f32 master weights)`,
    );
  }
}

function dimsOf(op: string, a: Tensor, b: Tensor, transA: boolean, transB: boolean): MatmulDims {
  checkDtype(op, a, 'f32');
  checkWeightDtype(op, b);
  const d = matmulDims(a.shape, b.shape, transA, transB);
  if (typeof d === 'string') {
    throw new EngineError(
      `${op}: cannot multiply a ${shapeStr(a.shape)}${transA ? '^T' : ''} by b ${shapeStr(b.shape)}${transB ? '^T' : ''}: ${d}`,
    );
  }
  return d;
}

/** C = op(a) op(b): a (..., M, K) or (..., K, M) with transA, b (..., K, N) or (..., N, K) with transB. */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const d = dimsOf('matmul', a, b, transA, transB);
  checkNoHalfGrad('matmul', b);
  if (isHalf(b.dtype) && transA && a.requiresGrad) {
    // dA^T = op(B) dY^T would put the 16-bit B in the A slot, which the kernels read as f32.
    throw new EngineError(`matmul: the gradient of a transposed a times a ${b.dtype} b is not implemented`);
  }
  const variant = variantOf(a.rt, 'matmul');
  const out = empty(a.rt, d.outShape, 'f32', 'matmul');
  const A: Operand = { t: a, trans: transA, batched: !d.aShared };
  const B: Operand = { t: b, trans: transB, batched: !d.bShared };
  gemm('matmul', out, true, A, B, d.batch, d.M, d.N, d.K, false, variant);
  return record('matmul', out, [a, b], (g) => {
    const G: Operand = { t: g, trans: false, batched: true };
    const Gt: Operand = { ...G, trans: true };
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) {
      ga = empty(a.rt, a.shape, 'f32', 'matmul_bwd_a');
      if (!transA)
        gemm('matmul backward', ga, A.batched, G, { ...B, trans: !transB }, d.batch, d.M, d.K, d.N, false, variant);
      else gemm('matmul backward', ga, A.batched, B, Gt, d.batch, d.K, d.M, d.N, false, variant);
    }
    if (b.requiresGrad) {
      gb = empty(a.rt, b.shape, 'f32', 'matmul_bwd_b');
      if (!transB)
        gemm('matmul backward', gb, B.batched, { ...A, trans: !transA }, G, d.batch, d.K, d.N, d.M, false, variant);
      else gemm('matmul backward', gb, B.batched, Gt, A, d.batch, d.N, d.K, d.M, false, variant);
    }
    return [ga, gb];
  });
}

/**
 * out = op(a) op(b), or out += op(a) op(b) with `accumulate`, into an existing tensor (e.g. a view
 * of the gradient arena). No autograd. `out` must have the product's shape and its own buffer.
 */
export function matmulInto(
  out: Tensor,
  a: Tensor,
  b: Tensor,
  opts: MatmulOptions & { accumulate?: boolean } = {},
): void {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const d = dimsOf('matmulInto', a, b, transA, transB);
  checkDtype('matmulInto', out, 'f32');
  if (!sameShape(out.shape, d.outShape)) {
    throw new EngineError(
      `matmulInto: out ${shapeStr(out.shape)} does not match the product shape ${shapeStr(d.outShape)} of a ${shapeStr(a.shape)} and b ${shapeStr(b.shape)}`,
    );
  }
  if (out.buffer === a.buffer || out.buffer === b.buffer) {
    // WebGPU forbids a buffer bound writable and read-only in one dispatch.
    throw new EngineError(
      `matmulInto: out ${shapeStr(out.shape)} shares a GPU buffer with an input (a ${shapeStr(a.shape)}, b ${shapeStr(b.shape)})`,
    );
  }
  const variant = variantOf(a.rt, 'matmul');
  gemm(
    'matmulInto',
    out,
    true,
    { t: a, trans: transA, batched: !d.aShared },
    { t: b, trans: transB, batched: !d.bShared },
    d.batch,
    d.M,
    d.N,
    d.K,
    opts.accumulate ?? false,
    variant,
  );
}

/** PyTorch Linear without bias: x (..., in), w (out, in) -> x w^T (..., out). */
export function linear(x: Tensor, w: Tensor): Tensor {
  checkDtype('linear', x, 'f32');
  checkWeightDtype('linear', w);
  checkNoHalfGrad('linear', w);
  if (w.rank !== 2 || x.rank < 1 || x.shape[x.rank - 1] !== w.shape[1]) {
    throw new EngineError(
      `linear: x ${shapeStr(x.shape)} does not match weight ${shapeStr(w.shape)} (want x (..., in), w (out, in))`,
    );
  }
  const [outF, inF] = w.shape;
  const lead = x.shape.slice(0, -1);
  const rowsN = lead.reduce((p, d) => p * d, 1); // (..., in) viewed as (rowsN, in)
  const variant = variantOf(x.rt, 'matmul');
  if (!linearFits(x, w, rowsN)) return linearSplit(x, w, matmulInto);
  const out = empty(x.rt, [...lead, outF], 'f32', 'linear');
  const X: Operand = { t: x, trans: false, batched: true };
  gemm('linear', out, true, X, { t: w, trans: true, batched: true }, 1, rowsN, outF, inF, false, variant);
  return record('linear', out, [x, w], (g) => {
    let gx: Tensor | null = null;
    let gw: Tensor | null = null;
    if (x.requiresGrad) {
      gx = empty(x.rt, x.shape, 'f32', 'linear_bwd_x');
      gemm(
        'linear backward',
        gx,
        true,
        { t: g, trans: false, batched: true },
        { t: w, trans: false, batched: true },
        1,
        rowsN,
        inF,
        outF,
        false,
        variant,
      );
    }
    if (w.requiresGrad) {
      const G: Operand = { t: g, trans: true, batched: true };
      if (!w.node && w.grad && !w.grad.disposed) {
        // A parameter with a gradient buffer (an arena view): dW accumulates into it in the same
        // dispatch, saving the temporary and the separate `grad += dW` pass autograd would do.
        gemm('linear backward', w.grad, true, G, X, 1, outF, inF, rowsN, true, variant);
      } else {
        gw = empty(x.rt, w.shape, 'f32', 'linear_bwd_w');
        gemm('linear backward', gw, true, G, X, 1, outF, inF, rowsN, false, variant);
      }
    }
    return [gx, gw];
  });
}
