// `dllm-wgpu bench sample`: decoding at gen length 128, block length 32, where Fast-dLLM's block
// caches (Wu et al. 2025, "Fast-dLLM", sec. 3.1) have whole blocks to skip. Two cases:
// - cost: a random-weight model of the llada-tiny shape, prompt 64, batch 1: plain decoding (no
//   cache) against the prefix and dual caches, one token per step (random weights never reach a
//   confidence threshold, and cost does not depend on the weights);
// - a trained long-generation model (--checkpoint; examples/sort-long.toml): plain decoding against
//   Fast-dLLM's threshold 0.9 without and with caches, with held-out exact-match accuracy and
//   agreement with plain decoding.
// Settings alternate (round by round, batch by batch) so a shared machine's swings hit all alike;
// the ratios compare those medians or sums. Reported per setting: forward evaluations, model FLOPs
// per generated token (bench/sample-decode.ts), generated tokens/s.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Device } from '../engine/device.ts';
import { UserError } from '../engine/errors.ts';
import { createConfig } from '../model/config.ts';
import { createModel, loadModel } from '../model/io.ts';
import type { LLaDAModel } from '../model/llada.ts';
import { endTokenIds } from '../model/tokenizer.ts';
import { decodeAnswer } from '../sample/exact-match.ts';
import { checkTaskAnswer, taskExamples } from '../train/tasks.ts';
import { loadTrainConfig } from '../train/config.ts';
import { newestCheckpoint } from '../train/checkpoint-dir.ts';
import { median, type BenchResult } from './harness.ts';
import * as D from './sample-decode.ts';

export const LONG_RUN = join('runs', 'sort-long');
const PROMPT = 64;
const COST_SETTINGS: D.Setting[] = [
  { name: 'plain (no cache)', cache: 'none' },
  { name: 'prefix cache', cache: 'prefix' },
  { name: 'dual cache', cache: 'dual' },
];
const TRAINED_SETTINGS: D.Setting[] = [
  { name: 'plain (LLaDA, 1 token/step)', cache: 'none' },
  { name: 'threshold 0.9', threshold: 0.9, cache: 'none' },
  { name: 'threshold 0.9 + prefix cache', threshold: 0.9, cache: 'prefix' },
  { name: 'threshold 0.9 + dual cache', threshold: 0.9, cache: 'dual' },
];
const SHAPE = `gen ${D.GEN_LENGTH}, block ${D.BLOCK_LENGTH}`;

export function defaultCheckpoint(): string | undefined {
  return existsSync(LONG_RUN) ? newestCheckpoint(LONG_RUN)?.path : undefined;
}

/** One result row per setting; ratios against the first (plain) setting. */
function rows(model: LLaDAModel, runs: D.Run[], what: string, extra: (r: D.Run) => Record<string, unknown>) {
  const tps = (r: D.Run) => r.generated / r.seconds.reduce((a, b) => a + b, 0);
  const plain = runs[0];
  return runs.map((r): BenchResult => ({
    case: `sample ${what}: ${r.setting.name}`,
    shape: `${what}, ${SHAPE}`,
    ms_median: (r.seconds.reduce((a, b) => a + b, 0) * 1000) / r.generated,
    ms_min: NaN,
    ms_max: NaN,
    compile_ms: 0,
    verified: 'sampler checked by the test suite (sample/generate.test.ts)',
    peer: {},
    extra: {
      nfe: r.nfe,
      flops_per_generated_token: D.flopsPerToken(model, r),
      tokens_per_sec: tps(r),
      flops_reduction_vs_plain: D.flopsPerToken(model, plain) / D.flopsPerToken(model, r),
      speedup_vs_plain: tps(r) / tps(plain),
      ...extra(r),
    },
  }));
}

/** Random-weight llada-tiny shape: what the caches save per token, whatever the weights. */
export async function benchSampleCost(dev: Device, reps: number, log: (s: string) => void): Promise<BenchResult[]> {
  const cfg = createConfig({
    d_model: 256,
    n_layers: 4,
    n_heads: 4,
    n_kv_heads: 4,
    mlp_hidden_size: 768,
    vocab_size: 512,
    embedding_size: 512,
    max_sequence_length: PROMPT + D.GEN_LENGTH,
  });
  const model = createModel(cfg, { device: dev, seed: 1 });
  const special = new Set([cfg.eos_token_id, cfg.mask_token_id, cfg.pad_token_id]);
  let s = 7;
  const prompt: number[] = [];
  while (prompt.length < PROMPT) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const t = s % cfg.vocab_size;
    if (!special.has(t)) prompt.push(t);
  }
  const endIds = [cfg.eos_token_id];
  const runs = COST_SETTINGS.map((st) => D.newRun(model, st));
  try {
    for (const st of COST_SETTINGS) await D.warmUp(model, st, [prompt], endIds);
    // Each plain decode is 128 full forwards: a few alternated rounds are enough for a median.
    const rounds = Math.max(1, Math.min(reps, 3));
    for (let r = 0; r < rounds; r++) {
      for (const run of runs) await D.decode(model, run, [prompt], endIds);
      log(`bench sample (llada-tiny shape): round ${r + 1}/${rounds}`);
    }
    // Seconds of each round are compared as medians: tokens/s from the median round.
    for (const run of runs) run.seconds = Array<number>(rounds).fill(median(run.seconds));
    return rows(model, runs, `llada-tiny shape (random weights), prompt ${PROMPT}, batch 1`, (r) => ({
      token_agreement_with_plain: D.tokenAgreement(r, runs[0]),
    }));
  } finally {
    for (const run of runs) run.den.dispose();
    model.dispose();
  }
}

/** The trained long-generation model: threshold decoding with and without caches, at equal accuracy? */
export async function benchSampleTrained(
  dev: Device,
  checkpoint: string | undefined,
  explicit: boolean,
  limit: number,
  log: (s: string) => void,
): Promise<BenchResult[]> {
  if (!checkpoint || !existsSync(checkpoint)) {
    if (explicit) throw new UserError(`bench sample: checkpoint ${checkpoint} does not exist`);
    log(
      `bench sample: trained case skipped: no checkpoint in ${LONG_RUN} (run \`dllm-wgpu train examples/sort-long.toml\` first, or pass --checkpoint)`,
    );
    return [];
  }
  const cfgPath = join(checkpoint, 'config.toml');
  if (!existsSync(cfgPath))
    throw new UserError(
      `bench sample: ${cfgPath} is missing: --checkpoint needs a checkpoint written by dllm-wgpu train`,
    );
  const tc = loadTrainConfig(readFileSync(cfgPath, 'utf8'), cfgPath);
  const vd = tc.validation_dataset.task ? tc.validation_dataset : tc.dataset;
  const task = vd.task;
  if (!task)
    throw new UserError(
      `bench sample: ${checkpoint} was not trained on a builtin task (addition, sort): no answers to check`,
    );
  const model = await loadModel(checkpoint, { device: dev });
  const tok = model.tokenizer!;
  const endIds = endTokenIds(tok);
  let prompts = taskExamples({
    task,
    split: 'heldout',
    splitSeed: vd.split_seed,
    nHeldout: vd.n_heldout,
    nExamples: 0,
  }).map((e) => e.prompt);
  if (limit > 0) prompts = prompts.slice(0, limit);
  const groups = new Map<number, { text: string; ids: number[] }[]>();
  for (const p of prompts) {
    const ids = tok.encode(p);
    groups.set(ids.length, [...(groups.get(ids.length) ?? []), { text: p, ids }]);
  }
  const longest = Math.max(...groups.keys());
  if (longest + D.GEN_LENGTH > model.config.max_sequence_length) {
    model.dispose();
    throw new UserError(
      `bench sample: ${checkpoint} has max_sequence_length ${model.config.max_sequence_length}, too short for a ${longest}-token prompt + gen length ${D.GEN_LENGTH}; train examples/sort-long.toml and pass its checkpoint`,
    );
  }
  const runs = TRAINED_SETTINGS.map((st) => D.newRun(model, st));
  const texts: string[] = [];
  try {
    const first = [...groups.values()][0].slice(0, 2).map((g) => g.ids);
    for (const st of TRAINED_SETTINGS) await D.warmUp(model, st, first, endIds);
    // Batches of one prompt length; every setting decodes each batch in turn.
    for (const [P, items] of [...groups.entries()].sort((a, b) => a[0] - b[0])) {
      for (const run of runs)
        await D.decode(
          model,
          run,
          items.map((i) => i.ids),
          endIds,
        );
      texts.push(...items.map((i) => i.text));
      log(`bench sample (${task}): prompts of ${P} tokens done (${texts.length}/${prompts.length})`);
    }
    const answers = runs.map((r) => r.outputs.map((ids) => decodeAnswer(tok, ids, endIds, model.config.mask_token_id)));
    return rows(model, runs, `${prompts.length} held-out ${task} prompts`, (r) => {
      const k = runs.indexOf(r);
      const ok = answers[k].filter((a, i) => checkTaskAnswer(task, texts[i], a)).length;
      const same = answers[k].filter((a, i) => a === answers[0][i]).length;
      return { accuracy: ok / texts.length, answer_agreement_with_plain: same / texts.length };
    });
  } finally {
    for (const run of runs) run.den.dispose();
    model.dispose();
  }
}
