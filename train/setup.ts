// Turns a resolved TrainConfig into the things a run needs: the tokenizer (builtin char tokenizer
// or the checkpoint's), the tokenised training/validation datasets (builtin tasks or JSONL files),
// and the model (from scratch with seeded init, or loaded from a checkpoint folder).
// Deliberately not here: the step loop (trainer.ts) and checkpoint contents (state.ts).
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Runtime } from '../engine/runtime.ts';
import { UserError } from '../engine/errors.ts';
import { createConfig } from '../model/config.ts';
import type { LLaDAModel } from '../model/llada.ts';
import { buildCharTokenizer, loadTokenizer, type Tokenizer } from '../model/tokenizer.ts';
import { createModel, loadModel } from '../model/io.ts';
import type { TrainConfig } from './config.ts';
import { loadJsonlDataset, tokenizeExamples, type TokenizedDataset, type TokenizeOptions } from './data.ts';
import { taskExamples, type TaskName } from './tasks.ts';

export interface RunParts {
  tokenizer: Tokenizer;
  model: LLaDAModel;
  train: TokenizedDataset;
  val: TokenizedDataset | null;
  /** Builtin task name when the run's data is generated (accuracy is then checkable). */
  task: TaskName | null;
  maskId: number;
}

export function runFolder(cfg: TrainConfig, override?: string): string {
  return resolve(override ?? (cfg.out || join('runs', cfg.name)));
}

export function makeTokenizer(cfg: TrainConfig): Tokenizer {
  const useCheckpoint = cfg.model.tokenizer === 'checkpoint' || (cfg.model.tokenizer === 'auto' && cfg.model.path);
  if (useCheckpoint) {
    if (!cfg.model.path) throw new UserError('model.tokenizer = "checkpoint" needs model.path');
    if (!existsSync(join(cfg.model.path, 'tokenizer.json'))) {
      throw new UserError(
        `model.path ${cfg.model.path} has no tokenizer.json; set model.tokenizer = "char" and a charset`,
      );
    }
    return loadTokenizer(cfg.model.path);
  }
  return buildCharTokenizer(cfg.model.charset);
}

function tokenizeOpts(
  d: TrainConfig['dataset'] | TrainConfig['validation_dataset'],
  cfg: TrainConfig,
): TokenizeOptions {
  return {
    seqLength: d.seq_length,
    format: d.format,
    truncation: d.truncation,
    supervisePadding: cfg.dllm.supervise_padding,
    useChatTemplate: d.use_chat_template,
    skipMalformed: d.skip_malformed,
  };
}

function loadSplit(
  d: TrainConfig['dataset'] | TrainConfig['validation_dataset'],
  cfg: TrainConfig,
  tok: Tokenizer,
  role: 'train' | 'heldout',
  configDir: string,
): TokenizedDataset | null {
  if (d.task) {
    const ex = taskExamples({
      task: d.task,
      split: role,
      splitSeed: d.split_seed,
      nHeldout: d.n_heldout,
      nExamples: role === 'train' ? (cfg.dataset.n_examples ?? 0) : 0,
      balanceStrata: role === 'train' && cfg.dataset.balance_strata,
    });
    return tokenizeExamples(ex, tok, tokenizeOpts(d, cfg), `${d.task}/${role}`);
  }
  if (d.path) {
    const p = isAbsolute(d.path) ? d.path : join(configDir, d.path);
    return loadJsonlDataset(p, tok, tokenizeOpts(d, cfg));
  }
  return null;
}

/** dataset.gen_length needs prompt/response rows long enough for every prompt + the longest G. */
function checkGenLength(cfg: TrainConfig, ds: TokenizedDataset): void {
  const gMax = cfg.dataset.gen_length[1];
  if (gMax === 0) return;
  if (ds.format === 'text') {
    throw new UserError(`${ds.source}: dataset.gen_length lays out prompt/response rows, and this data is text`);
  }
  let longest = 0;
  for (let r = 0; r < ds.nRows; r++) {
    let P = 0;
    while (P < ds.T && ds.promptMask[r * ds.T + P]) P++;
    longest = Math.max(longest, P);
  }
  if (longest + gMax > ds.T) {
    throw new UserError(
      `${ds.source}: the longest prompt (${longest} tokens) + dataset.gen_length max (${gMax}) exceeds seq_length ` +
        `${ds.T}; raise seq_length to ${longest + gMax} or lower gen_length`,
    );
  }
}

export async function buildRun(rt: Runtime, cfg: TrainConfig, configPath: string | null): Promise<RunParts> {
  const configDir = configPath ? dirname(resolve(configPath)) : process.cwd();
  const tokenizer = makeTokenizer(cfg);
  const train = loadSplit(cfg.dataset, cfg, tokenizer, 'train', configDir);
  if (!train) throw new UserError('[dataset] needs either path (a JSONL file) or task ("addition" or "sort")');
  const val = loadSplit(cfg.validation_dataset, cfg, tokenizer, 'heldout', configDir);
  checkGenLength(cfg, train);
  if (val) checkGenLength(cfg, val);
  const maskId = cfg.dllm.mask_token_id ?? tokenizer.maskId;
  let model: LLaDAModel;
  if (cfg.model.path) {
    model = await loadModel(cfg.model.path, { device: rt });
  } else {
    const m = cfg.model;
    const mc = createConfig({
      d_model: m.d_model,
      n_layers: m.n_layers,
      n_heads: m.n_heads,
      n_kv_heads: m.n_kv_heads,
      mlp_hidden_size: m.mlp_hidden_size,
      max_sequence_length: m.max_sequence_length,
      rope_theta: m.rope_theta,
      rms_norm_eps: m.rms_norm_eps,
      init_std: m.init_std,
      weight_tying: m.weight_tying,
      vocab_size: tokenizer.vocabSize,
      embedding_size: tokenizer.vocabSize,
      mask_token_id: maskId,
      eos_token_id: tokenizer.eosId,
      pad_token_id: tokenizer.padId,
    });
    model = createModel(mc, { device: rt, seed: cfg.seed });
    model.tokenizer = tokenizer;
  }
  const T = train.T;
  if (T > model.config.max_sequence_length) {
    throw new UserError(
      `dataset.seq_length ${T} exceeds the model's max_sequence_length ${model.config.max_sequence_length}`,
    );
  }
  if (maskId >= model.vocabRows)
    throw new UserError(`dllm.mask_token_id ${maskId} is outside the model vocabulary (${model.vocabRows})`);
  return { tokenizer, model, train, val, task: cfg.dataset.task ?? null, maskId };
}
