// Fused softmax cross-entropy launcher and autograd. The MDLM loss (LLaDA,
// GUIDELINES pre-training: masked-token cross-entropy weighted by 1/t) is a weighted sum of these
// per-token losses with weight 0 on unmasked positions. Kernel design in softmax-xent.wgsl.
// Deliberately not here: label smoothing, a z-loss, gradients for the weights (they are constants
// of the masking; passing weights that require grad is an error rather than a silent zero).
import { empty, zeros, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { variantOf } from '../variants.ts';
import { Uniforms, checkDtype, checkRank, fail, grid1d } from '../util.ts';

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

interface Launch {
  n: number;
  v: number;
  vec4: boolean;
  over: { WG: number; LANES: number };
  grid: [number, number];
  uniforms: Uint8Array;
}

function plan(op: string, logits: Tensor, targets: Tensor, weights: Tensor, opts: XentOptions): Launch {
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
  const wg = Math.max(64, lanes);
  return {
    n,
    v,
    vec4,
    over: { WG: wg, LANES: lanes },
    grid: grid1d(Math.ceil(n / (wg / lanes)), logits.rt.limits.maxComputeWorkgroupsPerDimension),
    uniforms: new Uniforms()
      .u32(n)
      .u32(v)
      .u32(v >> 2)
      .u32(NAN_BITS)
      .bytes(),
  };
}

/** Forward pass: per-row weighted losses (N) and per-row (max, log sum exp) (N, 2). */
function forward(L: Launch, logits: Tensor, targets: Tensor, weights: Tensor): { rows: Tensor; stats: Tensor } {
  const rt = logits.rt;
  const rows = empty(rt, [L.n], 'f32', 'xent.rows');
  const stats = empty(rt, [L.n, 2], 'f32', 'xent.stats');
  if (L.n > 0) {
    rt.run(rt.kernel(WGSL, L.vec4 ? 'xent_fwd4' : 'xent_fwd', L.over), {
      uniforms: L.uniforms,
      bindings: [logits, targets, weights, rows, stats],
      grid: L.grid,
    });
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
  if (L.n > 0) {
    rt.run(rt.kernel(WGSL, L.vec4 ? 'xent_bwd4' : 'xent_bwd', { ...L.over, PER_ROW: perRow }), {
      uniforms: L.uniforms,
      bindings: [logits, targets, weights, stats, g, dl],
      grid: L.grid,
    });
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
    rt.run(rt.kernel(WGSL, 'xent_sum', { WG: SUM_WG }), { uniforms: L.uniforms, bindings: [rows, out], grid: [1] });
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
