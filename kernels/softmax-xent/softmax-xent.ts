// Fused softmax cross-entropy launcher and autograd. The MDLM loss (LLaDA,
// GUIDELINES pre-training: masked-token cross-entropy weighted by 1/t) is a weighted sum of these
// per-token losses with weight 0 on unmasked positions. Kernel design in softmax-xent.wgsl.
// Deliberately not here: label smoothing, a z-loss, gradients for the weights (they are constants
// of the masking; passing weights that require grad is an error rather than a silent zero).
import { empty, zeros, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { variantOf } from '../variants.ts';
import type { Runtime } from '../../engine/runtime.ts';
import { Uniforms, checkDtype, checkRank, fail, grid1d, boundRows, rowsPerChunk } from '../util.ts';

import WGSL from './softmax-xent.wgsl.ts';
const SUM_WG = 64;
const NAN_BITS = 0x7fc00000;

export interface XentOptions {
  /**
   * Invocations per row (power of two up to 256), a tuning knob for tests and benchmarks. Default
   * by the device's softmax-xent variant (kernels/variants.ts): 'invocation' = 1 (one row per
   * invocation, no barriers: CPU adapters), 'workgroup' = 32-256 by vocabulary size (a tree in
   * workgroup memory).
   */
  lanes?: number;
}

export interface Launch {
  n: number;
  v: number;
  vec4: boolean;
  over: { WG: number; LANES: number };
  /** Row ranges of logits bound one at a time (one range when the logits fit one binding). */
  ranges: [number, number][];
}

export function plan(op: string, logits: Tensor, targets: Tensor, weights: Tensor, opts: XentOptions): Launch {
  checkDtype(op, logits, 'f32');
  checkDtype(op, targets, 'i32');
  checkDtype(op, weights, 'f32');
  checkRank(op, logits, 2, 'logits');
  checkRank(op, targets, 1, 'targets');
  checkRank(op, weights, 1, 'weights');
  const [n, v] = logits.shape;
  if (targets.shape[0] !== n || weights.shape[0] !== n) {
    fail(op, `targets and weights must have one entry per row of logits (N = ${n})`, logits, targets, weights);
  }
  if (v < 1) fail(op, 'the vocabulary axis V must be at least 1', logits);
  if (weights.requiresGrad) fail(op, 'weights must not require grad (no gradient flows to them)', weights);
  const vec4 = v % 4 === 0;
  const units = vec4 ? v / 4 : Math.ceil(v / 4);
  const lanes =
    opts.lanes ??
    (variantOf(logits.rt, 'softmax-xent') === 'invocation'
      ? 1
      : Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(Math.ceil(units / 4))))));
  if (!(Number.isInteger(lanes) && lanes >= 1 && lanes <= 256 && (lanes & (lanes - 1)) === 0)) {
    fail(op, `lanes must be a power of two <= 256, got ${lanes}`, logits);
  }
  const chunk = rowsPerChunk(op, logits, n, v * 4);
  const ranges: [number, number][] = [];
  for (let r0 = 0; r0 < n; r0 += chunk) ranges.push([r0, Math.min(n, r0 + chunk)]);
  return { n, v, vec4, over: { WG: Math.max(64, lanes), LANES: lanes }, ranges };
}

/** Uniforms of one dispatch over `rows` rows of `cols` logits columns starting at vocabulary id col0. */
export function xentUniforms(rows: number, cols: number, vTotal: number, col0 = 0, phase = 0, row0 = 0): Uint8Array {
  return new Uniforms()
    .u32(rows)
    .u32(cols)
    .u32(cols >> 2)
    .u32(NAN_BITS)
    .u32(col0)
    .u32(vTotal)
    .u32(phase)
    .u32(row0)
    .bytes();
}

export function xentGrid(L: Launch, rows: number, rt: Runtime): [number, number] {
  return grid1d(Math.ceil(rows / (L.over.WG / L.over.LANES)), rt.limits.maxComputeWorkgroupsPerDimension);
}

/** Forward pass: per-row weighted losses (N) and per-row (max, log sum exp) (N, 2). */
function forward(L: Launch, logits: Tensor, targets: Tensor, weights: Tensor): { rows: Tensor; stats: Tensor } {
  const rt = logits.rt;
  const rows = empty(rt, [L.n], 'f32', 'xent.rows');
  const stats = empty(rt, [L.n, 2], 'f32', 'xent.stats');
  for (const [r0, r1] of L.ranges) {
    const x = boundRows(logits, r0, r1);
    rt.run(rt.kernel(WGSL, L.vec4 ? 'xent_fwd4' : 'xent_fwd', L.over), {
      uniforms: xentUniforms(r1 - r0, L.v, L.v, 0, 0, r0),
      bindings: [x.t, targets, weights, rows, stats],
      grid: xentGrid(L, r1 - r0, rt),
    });
    x.done();
  }
  return { rows, stats };
}

function backwardLogits(
  L: Launch,
  logits: Tensor,
  targets: Tensor,
  weights: Tensor,
  stats: Tensor,
  g: Tensor,
  perRow: boolean,
): Tensor {
  const rt = logits.rt;
  const dl = empty(rt, logits.shape, 'f32', 'xent.dlogits');
  for (const [r0, r1] of L.ranges) {
    const x = boundRows(logits, r0, r1);
    const d = boundRows(dl, r0, r1, { write: true });
    rt.run(rt.kernel(WGSL, L.vec4 ? 'xent_bwd4' : 'xent_bwd', { ...L.over, PER_ROW: perRow }), {
      uniforms: xentUniforms(r1 - r0, L.v, L.v, 0, 0, r0),
      bindings: [x.t, targets, weights, stats, g, d.t],
      grid: xentGrid(L, r1 - r0, rt),
    });
    x.done();
    d.done();
  }
  return dl;
}

/**
 * Per-row weighted cross-entropy w_i * (logsumexp(logits_i) - logits_i[t_i]), (N). Rows with
 * w_i = 0 or t_i < 0 give 0; a supervised row with t_i >= V gives NaN. Differentiable in logits.
 */
export function softmaxCrossEntropyRows(
  logits: Tensor,
  targets: Tensor,
  weights: Tensor,
  opts: XentOptions = {},
): Tensor {
  const L = plan('softmaxCrossEntropyRows', logits, targets, weights, opts);
  const { rows, stats } = forward(L, logits, targets, weights);
  record('softmaxCrossEntropyRows', rows, [logits, targets, weights], (g) => [
    backwardLogits(L, logits, targets, weights, stats, g, true),
    null,
    null,
  ]);
  if (!rows.requiresGrad) stats.dispose();
  return rows;
}

/**
 * sum_i w_i * CE_i over the rows of logits (N, V), as a (1) tensor; see softmaxCrossEntropyRows.
 * The row sum is deterministic (fixed-order reduction, no atomics).
 */
export function softmaxCrossEntropy(logits: Tensor, targets: Tensor, weights: Tensor, opts: XentOptions = {}): Tensor {
  const op = 'softmaxCrossEntropy';
  const L = plan(op, logits, targets, weights, opts);
  const rt = logits.rt;
  const { rows, stats } = forward(L, logits, targets, weights);
  let out: Tensor;
  if (L.n === 0) out = zeros(rt, [1], 'f32', 'xent.loss');
  else {
    out = empty(rt, [1], 'f32', 'xent.loss');
    xentSum(rows, out);
  }
  rows.dispose();
  record(op, out, [logits, targets, weights], (g) => [
    backwardLogits(L, logits, targets, weights, stats, g, false),
    null,
    null,
  ]);
  if (!out.requiresGrad) stats.dispose();
  return out;
}

/** out (1) = the sum of rows (N) in a fixed order (one workgroup): deterministic. */
export function xentSum(rows: Tensor, out: Tensor): void {
  const rt = rows.rt;
  rt.run(rt.kernel(WGSL, 'xent_sum', { WG: SUM_WG }), {
    uniforms: xentUniforms(rows.size, 1, 1),
    bindings: [rows, out],
    grid: [1],
  });
}
