// Shared by the two `bench sample` cases: the long-generation decoding settings (gen length 128,
// block length 32, 128 steps: LLaDA's one token per step unless a threshold commits more), one
// timed generate() call per (setting, batch), and the model-FLOP count per generated token:
// 2 * params per evaluated token + 4 * C * L per attention query-key pair: the forward third of
// PaLM's model-FLOPs count 6N + 12 L H Q T (Chowdhery et al. 2022, appendix B), with LLaDA's
// bidirectional attention over every key. Early stop is off so every setting decodes all 128
// positions (with it, a short answer's remaining blocks would be skipped and gen 128 measure less).
import type { LLaDAModel } from '../model/llada.ts';
import { generate } from '../sample/generate.ts';
import { denoiserFlops, modelDenoiser, type CacheMode, type ModelDenoiser } from '../sample/denoiser.ts';

export const GEN_LENGTH = 128;
export const BLOCK_LENGTH = 32;

export interface Setting {
  name: string;
  threshold?: number;
  cache: CacheMode;
}

/** One setting's decoder and what it has cost so far. */
export interface Run {
  setting: Setting;
  den: ModelDenoiser;
  seconds: number[];
  generated: number;
  nfe: number;
  outputs: number[][];
}

export function newRun(model: LLaDAModel, setting: Setting): Run {
  return {
    setting,
    den: modelDenoiser(model, { cache: setting.cache }),
    seconds: [],
    generated: 0,
    nfe: 0,
    outputs: [],
  };
}

/** Decodes `rows` (prompts of one length) with the run's setting; records time, outputs and cost. */
export async function decode(
  model: LLaDAModel,
  run: Run,
  rows: number[][],
  endIds: number[],
  steps = GEN_LENGTH,
): Promise<void> {
  const t = performance.now();
  const r = await generate(run.den, rows, model.config.eos_token_id, model.config.max_sequence_length, {
    steps,
    genLength: GEN_LENGTH,
    blockLength: BLOCK_LENGTH,
    temperature: 0,
    remasking: 'low_confidence',
    cfgScale: 0,
    seed: 0,
    maskId: model.config.mask_token_id,
    endIds,
    threshold: run.setting.threshold,
    earlyStop: false,
  });
  run.seconds.push((performance.now() - t) / 1000);
  run.generated += rows.length * GEN_LENGTH;
  run.nfe += r.nfe;
  run.outputs.push(...r.outputIds);
}

/** Warm-up (pipeline compiles for full and cached forwards): two steps per block, not counted. */
export async function warmUp(model: LLaDAModel, setting: Setting, rows: number[][], endIds: number[]): Promise<void> {
  const run = newRun(model, { ...setting, threshold: undefined });
  try {
    await decode(model, run, rows, endIds, 2 * (GEN_LENGTH / BLOCK_LENGTH));
  } finally {
    run.den.dispose();
  }
}

export function flopsPerToken(model: LLaDAModel, run: Run): number {
  return denoiserFlops(model.config, run.den) / run.generated;
}

/** Fraction of generated positions equal to the reference run's. */
export function tokenAgreement(run: Run, ref: Run): number {
  let same = 0,
    all = 0;
  run.outputs.forEach((o, i) =>
    o.forEach((t, j) => {
      all++;
      if (t === ref.outputs[i][j]) same++;
    }),
  );
  return all ? same / all : NaN;
}
