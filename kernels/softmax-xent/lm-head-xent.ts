// The LM head fused with softmax cross-entropy over vocabulary chunks, for vocabularies whose head
// weight or logits do not fit one storage binding (LLaDA's 126464 x 4096): loss = sum_i w_i CE_i
// of logits = x W^T, never holding more than one chunk of logits. Forward: per chunk of head rows
// [v0, v1), logits_c = x W_c^T (N, Vc) and xent_fwd_chunk merges its (max, sum-exp) into a running
// per-row state (Milakov & Gimelshein 2018, "Online normalizer calculation for softmax"); the last
// chunk writes (max, log sum) per row. Backward: per chunk, recompute logits_c, dlogits_c from the
// final stats (xent_bwd with col0), then dx += dlogits_c W_c and dW_c (+)= dlogits_c^T x. The same
// chunking idea as Liger Kernel's fused linear cross-entropy; written from the formulas, not its code.
// A head that is a parameter with a gradient buffer gets dW added in place, chunk by chunk.
// Deliberately not here: logit scaling (scale x first), label smoothing, a z-loss.
import type { Runtime } from '../../engine/runtime.ts';
import { empty, isHalf, zeros, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { matmulInto } from '../matmul/matmul.ts';
import { checkDtype, checkRank, checkWeightDtype, fail, boundRows, rowsPerChunk } from '../util.ts';
import { plan, xentGrid, xentSum, xentUniforms, type XentOptions } from './softmax-xent.ts';
import WGSL from './softmax-xent.wgsl.ts';

export interface LmHeadXentOptions extends XentOptions {
  /** Largest logits chunk in bytes (default: one binding); smaller in tests. */
  maxChunkBytes?: number;
  /** Per-row losses (N) instead of their sum (1). */
  perRow?: boolean;
}

/**
 * Head rows per chunk: W_c and logits_c (N, Vc) each fit one binding (and maxChunkBytes), and W_c
 * starts on the binding offset alignment.
 */
export function vocabChunk(op: string, x: Tensor, w: Tensor, maxChunkBytes?: number): number {
  const [V, C] = w.shape;
  const N = x.shape[0];
  const limit = Math.min(maxChunkBytes ?? Infinity, x.rt.limits.maxStorageBufferBindingSize);
  const rowBytes = C * (isHalf(w.dtype) ? 2 : 4);
  const byW = rowsPerChunk(op, w, V, rowBytes, maxChunkBytes);
  const byLogits = Math.floor(limit / Math.max(1, N * 4));
  if (byW >= V && byLogits >= V) return V;
  // Prefer chunk starts aligned in W (plain views, no copies) and whole vec4 groups (the chunk
  // kernels read vec4s when the width allows), where that keeps at least half the chunk.
  const most = Math.min(byW, byLogits);
  const align = x.rt.limits.minStorageBufferOffsetAlignment;
  let step = align / gcd(rowBytes, align);
  step *= 4 / gcd(step, 4);
  const aligned = Math.floor(most / step) * step;
  if (aligned >= most / 2) return aligned;
  // an unaligned 16-bit chunk is copied, and copies start on 4 bytes: keep chunk starts on even rows
  return isHalf(w.dtype) && C % 2 === 1 ? Math.max(2, most - (most % 2)) : most;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * sum_i w_i * CE(x_i W^T, t_i), (1) (or per row, (N)): x (N, C), head (V, C), targets (N) i32,
 * weights (N) f32, as softmaxCrossEntropy(linear(x, head), targets, weights) computes it.
 */
export function lmHeadCrossEntropy(
  x: Tensor,
  head: Tensor,
  targets: Tensor,
  weights: Tensor,
  opts: LmHeadXentOptions = {},
): Tensor {
  const op = 'lmHeadCrossEntropy';
  checkDtype(op, x, 'f32');
  checkWeightDtype(op, head);
  checkRank(op, x, 2, 'x (N, C)');
  checkRank(op, head, 2, 'head (V, C)');
  const [N, C] = x.shape;
  const V = head.shape[0];
  if (head.shape[1] !== C) fail(op, 'x (N, C) and head (V, C) must share C', x, head);
  const rt = x.rt;
  const vc = vocabChunk(op, x, head, opts.maxChunkBytes);
  const chunks: [number, number][] = [];
  for (let v0 = 0; v0 < V; v0 += vc) chunks.push([v0, Math.min(V, v0 + vc)]);
  // Argument checks and the lane plan, on a stand-in of the chunk's logits shape.
  const probe = empty(rt, [N, Math.min(vc, V)], 'f32', 'lm_head.logits');
  const L = plan(op, probe, targets, weights, opts);
  probe.dispose();
  const logitsOf = (v0: number, v1: number): Tensor => {
    const out = empty(rt, [N, v1 - v0], 'f32', 'lm_head.logits');
    const w = boundRows(head, v0, v1);
    matmulInto(out, x, w.t, { transB: true });
    w.done();
    return out;
  };

  const rows = empty(rt, [N], 'f32', 'xent.rows');
  const stats = empty(rt, [N, 2], 'f32', 'xent.stats');
  const run = empty(rt, [N, 4], 'f32', 'xent.run');
  chunks.forEach(([v0, v1], i) => {
    const logits = logitsOf(v0, v1);
    const vec4 = (v1 - v0) % 4 === 0;
    const phase = (i === 0 ? 1 : 0) | (i === chunks.length - 1 ? 2 : 0);
    if (N > 0) {
      rt.run(rt.kernel(WGSL, vec4 ? 'xent_fwd_chunk4' : 'xent_fwd_chunk', L.over), {
        uniforms: xentUniforms(N, v1 - v0, V, v0, phase),
        bindings: [logits, targets, weights, rows, stats, run],
        grid: xentGrid(L, N, rt),
      });
    }
    logits.dispose();
    flushBetweenChunks(rt, chunks.length);
  });
  run.dispose();

  let out = rows;
  if (!opts.perRow) {
    out = N === 0 ? zeros(rt, [1], 'f32', 'xent.loss') : empty(rt, [1], 'f32', 'xent.loss');
    if (N > 0) xentSum(rows, out);
    rows.dispose();
  }
  record(op, out, [x, head, targets, weights], (g) => {
    const dx = x.requiresGrad ? zeros(rt, x.shape, 'f32', 'lm_head_bwd_x') : null;
    const inPlace = head.requiresGrad && !head.node && !!head.grad && !head.grad.disposed;
    const dw = !head.requiresGrad ? null : inPlace ? head.grad! : zeros(rt, head.shape, 'f32', 'lm_head_bwd_w');
    for (const [v0, v1] of chunks) {
      if (N === 0) break;
      const logits = logitsOf(v0, v1);
      const dl = empty(rt, logits.shape, 'f32', 'xent.dlogits');
      const vec4 = (v1 - v0) % 4 === 0;
      rt.run(rt.kernel(WGSL, vec4 ? 'xent_bwd4' : 'xent_bwd', { ...L.over, PER_ROW: !!opts.perRow }), {
        uniforms: xentUniforms(N, v1 - v0, V, v0),
        bindings: [logits, targets, weights, stats, g, dl],
        grid: xentGrid(L, N, rt),
      });
      logits.dispose();
      const w = boundRows(head, v0, v1);
      if (dx) matmulInto(dx, dl, w.t, { accumulate: true }); // (N, Vc) (Vc, C)
      if (dw) {
        const part = boundRows(dw, v0, v1, { write: true, init: true });
        matmulInto(part.t, dl, x, { transA: true, accumulate: true }); // (Vc, N) (N, C)
        part.done();
      }
      w.done();
      dl.dispose();
      flushBetweenChunks(rt, chunks.length);
    }
    return [dx, inPlace ? null : dw, null, null];
  });
  if (!out.requiresGrad) stats.dispose();
  return out;
}

/**
 * With several chunks, submit after each: buffers released by a chunk become reusable only after
 * a submit (engine/pool.ts), so this keeps one or two chunks of logits alive, not all of them.
 */
function flushBetweenChunks(rt: Runtime, chunks: number): void {
  if (chunks > 1) rt.flush();
}
