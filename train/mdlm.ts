// MDLM forward corruption and the CPU reference of its loss (host side, float64).
// Corruption as NeMo AutoModel's mdlm strategy (components/datasets/dllm/corruption.py,
// corrupt_uniform) and LLaDA's GUIDELINES: per sequence t ~ U[0,1), p = (1 - eps) t + eps; each
// maskable position (every non-prompt position: answer, end token and padding; in pre-training rows
// every position) becomes mask_id with probability p. NeMo masks only loss_mask positions; the two
// agree unless supervise_padding = false, where we still mask padding (as LLaDA does, so the model
// never sees the answer length at training time that it cannot see at sampling time).
// Loss: sum over masked supervised positions of CE / p, divided by a normaliser: the supervised-token
// count of the whole optimizer step ("token", NeMo's "supervised" mode), or LLaDA's per-answer-length
// normalisation: mean over sequences of (sum of that sequence's CE / p) / answer_length.
// The normaliser is folded into per-position weights so the GPU loss is just sum_i w_i * CE_i.
// Randomness is a pure function of (seed, step, sample), never of call order:
//   t of sample s at optimizer step k:  uniform(seed, streamOf(mdlmT, k, 0), index = s)
//   mask draw at position i of sample s: uniform(seed, streamOf(mdlmMask, k, s), index = i)
// where s = micro-batch index * local_batch_size + row within the micro-batch (s < 2^24), and
// validation uses k = VALIDATION_STEP (0; training steps count from 1) so every evaluation sees the
// same corruption. p is computed in float64 here; the draws u are exact f32 values, so a GPU port of
// the test u < p only disagrees when u falls between the f64 and f32 roundings of p.
// Deliberately not here: the GPU loss (a composite of kernels ops) and any model code.
import { STREAM_TAG, philoxUniform, streamOf, uniformFloat, randomU32 } from '../kernels/rng/philox.ts';
import type { Batch } from './data-order.ts';

export const VALIDATION_STEP = 0;

export interface CorruptOptions {
  seed: number;
  /** Optimizer step (1-based) or VALIDATION_STEP. */
  step: number;
  /** Sample index of this micro-batch's row 0 within the step (micro-batch index * B). */
  sampleOffset: number;
  maskId: number;
  eps: number;
}

export interface Corruption {
  noisyIds: Int32Array; // (B, T) input ids with masked positions replaced by mask_id
  maskedMask: Uint8Array; // (B, T) 1 where masked AND supervised
  weights: Float32Array; // (B, T) 1/p where masked and supervised, else 0 (normaliser not folded)
  p: Float64Array; // (B,) masking probability of each row
}

/** t for sample `sample` of step `step`. */
export function mdlmT(seed: number, step: number, sample: number): number {
  return uniformFloat(randomU32(seed, streamOf(STREAM_TAG.mdlmT, step, 0), sample));
}

export function maskProbability(t: number, eps: number): number {
  return (1 - eps) * t + eps;
}

export function mdlmCorrupt(batch: Batch, o: CorruptOptions): Corruption {
  const { B, T } = batch;
  const noisyIds = batch.inputIds.slice();
  const maskedMask = new Uint8Array(B * T);
  const weights = new Float32Array(B * T);
  const p = new Float64Array(B);
  if (!(o.eps > 0 && o.eps <= 1)) throw new RangeError(`mdlm eps must be in (0, 1], got ${o.eps}`);
  for (let b = 0; b < B; b++) {
    const sample = o.sampleOffset + b;
    const pb = maskProbability(mdlmT(o.seed, o.step, sample), o.eps);
    p[b] = pb;
    const u = philoxUniform(o.seed, streamOf(STREAM_TAG.mdlmMask, o.step, sample), T);
    for (let i = 0; i < T; i++) {
      const k = b * T + i;
      if (batch.promptMask[k] || !(u[i] < pb)) continue;
      noisyIds[k] = o.maskId;
      if (batch.lossMask[k]) {
        maskedMask[k] = 1;
        weights[k] = 1 / pb;
      }
    }
  }
  return { noisyIds, maskedMask, weights, p };
}

export type Normalization = 'token' | 'answer_length';

/**
 * What the normaliser needs to know about the whole optimizer step:
 * token: supervised tokens over every micro-batch; answer_length: sequences in the step.
 */
export type StepNormalizer = { kind: 'token'; supervisedTokens: number } | { kind: 'answer_length'; batchSize: number };

/** Sums loss_mask over every micro-batch of an optimizer step. */
export function supervisedTokenCount(batches: readonly Batch[]): number {
  let n = 0;
  for (const b of batches) for (const m of b.lossMask) n += m;
  return n;
}

export function stepNormalizer(kind: Normalization, batches: readonly Batch[]): StepNormalizer {
  if (kind === 'token') return { kind, supervisedTokens: supervisedTokenCount(batches) };
  return { kind, batchSize: batches.reduce((s, b) => s + b.B, 0) };
}

/**
 * Per-position weights with the normaliser folded in, so that the step loss is
 * sum over micro-batches and positions of w_i * CE_i (what the GPU computes).
 */
export function foldNormalizer(c: Corruption, batch: Batch, norm: StepNormalizer): Float32Array {
  const { B, T } = batch;
  const out = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    let scale: number;
    if (norm.kind === 'token') scale = norm.supervisedTokens > 0 ? 1 / norm.supervisedTokens : 0;
    else scale = batch.answerLength[b] > 0 ? 1 / (batch.answerLength[b] * norm.batchSize) : 0;
    for (let i = 0; i < T; i++) {
      const k = b * T + i;
      if (c.maskedMask[k]) out[k] = (1 / c.p[b]) * scale; // from p in f64, not the rounded weight
    }
  }
  return out;
}

/** Float64 cross-entropy of row `i` of (N, V) logits against `target`. */
export function crossEntropyRow(logits: Float32Array, V: number, i: number, target: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[i * V + v]);
  let s = 0;
  for (let v = 0; v < V; v++) s += Math.exp(logits[i * V + v] - max);
  return Math.log(s) + max - logits[i * V + target];
}

/** sum_i weights_i * CE(logits_i, targets_i) / normalizer over positions with a non-zero weight. */
export function mdlmLossReference(
  logits: Float32Array, // (N, V)
  targets: Int32Array, // (N,) clean token ids
  weights: Float32Array, // (N,)
  V: number,
  normalizer = 1,
): number {
  const N = targets.length;
  if (logits.length !== N * V || weights.length !== N) {
    throw new RangeError(`mdlm loss: logits ${logits.length}, targets ${N}, weights ${weights.length}, V ${V}`);
  }
  let s = 0;
  for (let i = 0; i < N; i++) if (weights[i] !== 0) s += weights[i] * crossEntropyRow(logits, V, i, targets[i]);
  return s / normalizer;
}

/** LLaDA's SFT loss: (1/B) * sum_b (sum_{i in b} CE_i / p_b) / answer_length_b, from unfolded weights. */
export function mdlmLossPerAnswerLength(
  logits: Float32Array, // (B*T, V)
  targets: Int32Array, // (B*T,)
  weights: Float32Array, // (B*T,) 1/p at masked supervised positions
  answerLength: Int32Array, // (B,)
  V: number,
): number {
  const B = answerLength.length;
  const T = targets.length / B;
  let total = 0;
  for (let b = 0; b < B; b++) {
    const rows = { from: b * T, to: (b + 1) * T };
    const part = mdlmLossReference(
      logits.subarray(rows.from * V, rows.to * V),
      targets.subarray(rows.from, rows.to),
      weights.subarray(rows.from, rows.to),
      V,
    );
    if (answerLength[b] > 0) total += part / answerLength[b];
  }
  return total / B;
}
