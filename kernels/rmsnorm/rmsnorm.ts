// RMSNorm launcher and autograd: y = x * rsqrt(mean(x^2) + eps) * weight over the
// last axis, in f32, as LLaDA's RMSLayerNorm (GSAI-ML/LLaDA modeling_llada.py; LLaDA-8B uses
// eps = 1e-5). Kernel design in rmsnorm.wgsl. Not here: a bias term (LLaDA has none), fused
// residual add (a composite over this op when a profile asks for it).
import { empty, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { RMSNORM_WG, variantOf, type VariantOf } from '../variants.ts';
import { Uniforms, checkDtype, checkRank, fail, grid1d } from '../util.ts';
import WGSL from './rmsnorm.wgsl.ts';
import WGSL_SG from './rmsnorm-sg.wgsl.ts';

const WG = RMSNORM_WG;
/** Weight-gradient pass 1 splits the rows into at most this many chunks (partials per column). */
const MAX_CHUNKS = 64;
const MIN_ROWS_PER_CHUNK = 32;

/**
 * How a row is reduced (chosen per device by kernels/variants.ts; override rmsnorm:<layout>):
 * 'invocation' = one row per invocation (no barriers, no workgroup memory); 'subgroup' = one
 * subgroup per row (subgroupAdd; needs the feature and a fixed subgroup size); 'workgroup' = all 64
 * invocations of a workgroup per row (tree in workgroup memory, portable).
 */
export type RmsnormLayout = VariantOf<'rmsnorm'>;

function params(rows: number, c: number, eps: number, rowsPerChunk = 0, chunks = 0): Uint8Array {
  return new Uniforms().u32(rows).u32(c).f32(eps).u32(rowsPerChunk).u32(chunks).bytes();
}

export function rmsnorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const op = 'rmsnorm';
  checkDtype(op, x, 'f32');
  checkDtype(op, weight, 'f32');
  checkRank(op, weight, 1, 'weight');
  const c = weight.shape[0];
  if (x.rank < 1 || x.shape[x.rank - 1] !== c) fail(op, `last axis of x must equal weight length ${c}`, x, weight);
  if (c === 0) fail(op, 'C must be at least 1', x, weight);
  if (!(eps >= 0) || !Number.isFinite(eps)) fail(op, `eps must be a finite number >= 0, got ${eps}`, x, weight);
  const rt = x.rt;
  const layout = variantOf(rt, 'rmsnorm');
  const lanes = layout === 'invocation' ? 1 : layout === 'workgroup' ? WG : rt.facts.subgroupSize;
  const file = layout === 'subgroup' ? WGSL_SG : WGSL;
  const rows = x.size / c;
  const over = { WG, LANES: lanes };
  const rowGrid = grid1d(Math.ceil(rows / (WG / lanes)));
  const y = empty(rt, x.shape, 'f32', op);
  const rstd = empty(rt, [rows], 'f32', 'rmsnorm.rstd');
  rt.run(rt.kernel(file, 'rmsnorm_fwd', over), {
    uniforms: params(rows, c, eps),
    bindings: [x, weight, y, rstd],
    grid: rowGrid,
  });
  record(op, y, [x, weight], (dy) => {
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    if (x.requiresGrad) {
      dx = empty(rt, x.shape, 'f32', 'rmsnorm_bwd.dx');
      rt.run(rt.kernel(file, 'rmsnorm_bwd_x', over), {
        uniforms: params(rows, c, eps),
        bindings: [dy, x, weight, rstd, dx],
        grid: rowGrid,
      });
    }
    if (weight.requiresGrad) {
      dw = empty(rt, [c], 'f32', 'rmsnorm_bwd.dw');
      const chunks = Math.max(1, Math.min(MAX_CHUNKS, Math.ceil(rows / MIN_ROWS_PER_CHUNK)));
      const perChunk = Math.max(1, Math.ceil(rows / chunks));
      const nChunks = Math.max(1, Math.ceil(rows / perChunk));
      const part = nChunks === 1 ? dw : empty(rt, [nChunks, c], 'f32', 'rmsnorm_bwd.dw_part');
      const u = params(rows, c, eps, perChunk, nChunks);
      rt.run(rt.kernel(WGSL, 'rmsnorm_bwd_w', { WG }), {
        uniforms: u,
        bindings: [dy, x, rstd, part],
        grid: [Math.ceil(c / WG), nChunks],
      });
      if (part !== dw) {
        rt.run(rt.kernel(WGSL, 'rmsnorm_bwd_w_sum', { WG }), {
          uniforms: u,
          bindings: [part, dw],
          grid: [Math.ceil(c / WG)],
        });
        part.dispose();
      }
    }
    return [dx, dw];
  });
  if (!y.node) rstd.dispose(); // saved only for the backward
  return y;
}
