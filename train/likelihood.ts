// LLaDA's Monte Carlo estimate of log p(answer | prompt) (GSAI-ML/LLaDA get_log_likelihood.py,
// following the MDLM ELBO): for each of mc_num / batch_size rounds, a batch of copies of
// prompt + answer is corrupted with STRATIFIED mask counts (a random k in [1, A], then counts
// k, k + A/b, ... wrapped into [1, A], each copy masking a random subset of that many answer
// positions); the estimate is -mean over rounds of (sum over masked answer positions of
// CE / (count / A)) / batch_size. The prompt is never masked. Draws come from Philox, keyed by
// (seed, example, round), so the estimate is reproducible.
// Deliberately not here: the CLI, data loading.
import { noGradAsync } from '../engine/autograd.ts';
import { tensor } from '../engine/tensor.ts';
import { UserError } from '../engine/errors.ts';
import { philoxU32, streamOf, u32Below, STREAM_TAG } from '../kernels/rng/philox.ts';
import type { LLaDAModel } from '../model/llada.ts';

export interface LikelihoodOptions {
  mcNum: number;
  batchSize: number;
  seed: number;
  maskId: number;
}

/** Stratified mask counts for one round: b values in [1, A]. */
export function stratifiedCounts(A: number, b: number, k: number): number[] {
  return Array.from({ length: b }, (_, i) => ((Math.round(k + i * (A / b)) - 1) % A) + 1);
}

export async function logLikelihood(
  model: LLaDAModel,
  prompt: number[],
  answer: number[],
  index: number,
  o: LikelihoodOptions,
): Promise<number> {
  const A = answer.length;
  if (A === 0) throw new UserError('log-likelihood: empty answer');
  if (o.mcNum % o.batchSize !== 0)
    throw new UserError(`--mc-num ${o.mcNum} must be a multiple of --mc-batch ${o.batchSize}`);
  const L = prompt.length + A,
    b = o.batchSize,
    P = prompt.length;
  const seq = [...prompt, ...answer];
  const rounds = o.mcNum / b;
  const rt = model.rt;
  let total = 0;
  for (let r = 0; r < rounds; r++) {
    const draws = philoxU32(o.seed, streamOf(STREAM_TAG.likelihood, index, r), 1 + b * A);
    const k = 1 + u32Below(draws[0], A);
    const counts = stratifiedCounts(A, b, k);
    const ids = new Int32Array(b * L);
    const weights = new Float32Array(b * L);
    for (let i = 0; i < b; i++) {
      ids.set(seq, i * L);
      // a random subset of `counts[i]` answer positions: Fisher-Yates on the answer indices
      const perm = Array.from({ length: A }, (_, j) => j);
      for (let j = A - 1; j >= 1; j--) {
        const t = u32Below(draws[1 + i * A + j], j + 1);
        [perm[j], perm[t]] = [perm[t], perm[j]];
      }
      for (let j = 0; j < counts[i]; j++) {
        ids[i * L + P + perm[j]] = o.maskId;
        weights[i * L + P + perm[j]] = A / counts[i] / b;
      }
    }
    const rows = await noGradAsync(() =>
      rt.scope(async () => {
        const targets = tensor(
          rt,
          Int32Array.from({ length: b * L }, (_, j) => seq[j % L]),
          [b * L],
          'i32',
        );
        const rows = model.loss({ ids, B: b, T: L }, targets, tensor(rt, weights, [b * L]), { perRow: true });
        return (await rows.read()) as Float32Array;
      }),
    );
    let s = 0;
    for (const v of rows) s += v;
    total += s;
  }
  return -total / rounds;
}
