// Turns a resolved TrainConfig into the things a run needs: the tokenizer (builtin char tokenizer
// or the checkpoint's), the tokenised training/validation datasets (builtin tasks or JSONL files),
// and the model (from scratch with seeded init, or loaded from a checkpoint folder).
// Deliberately not here: the step loop (trainer.ts) and checkpoint contents (state.ts).
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Runtime } from '../engine/runtime.ts';
import { UserError } from '../engine/errors.ts';
import { createConfig, tokenizerConfigFields, paramCount, type ModelConfig } from '../model/config.ts';
import { loadConfig } from '../model/config-file.ts';
import type { LLaDAModel } from '../model/llada.ts';
import { buildCharTokenizer, type Tokenizer } from '../model/tokenizer.ts';
import { loadTokenizer } from '../model/tokenizer-file.ts';
import { createModel, loadModel, parseDtype } from '../model/io.ts';
import { addLora, loraSpecs } from '../model/lora-io.ts';
import { checkPlan, memoryPlan, planLimits } from '../model/memory-plan.ts';
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
  const longest = ds.longestPrompt;
  if (longest + gMax > ds.T) {
    throw new UserError(
      `${ds.source}: the longest prompt (${longest} tokens) + dataset.gen_length max (${gMax}) exceeds seq_length ` +
        `${ds.T}; raise seq_length to ${longest + gMax} or lower gen_length`,
    );
  }
}

/** The architecture of a from-scratch model: the [model] keys, the tokenizer's vocabulary and ids. */
function scratchModelConfig(cfg: TrainConfig, tokenizer: Tokenizer, maskId: number): ModelConfig {
  const m = cfg.model;
  return createConfig({
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
    ...tokenizerConfigFields(tokenizer),
    mask_token_id: maskId,
  });
}

/**
 * What full fine-tuning keeps in GPU memory besides activations: f32 master weights, f32
 * gradients and AdamW's two f32 moments, 16 bytes per parameter (a checkpoint's 16-bit weights are
 * widened to f32 for training). One line for `train --print-config`.
 */
export function trainingMemoryLine(cfg: TrainConfig): string {
  const mc = cfg.model.path
    ? loadConfig(cfg.model.path)
    : (() => {
        const tok = makeTokenizer(cfg);
        return scratchModelConfig(cfg, tok, cfg.dllm.mask_token_id ?? tok.maskId);
      })();
  const n = paramCount(mc);
  const gib = (x: number) => (x >= 2 ** 30 ? `${(x / 2 ** 30).toFixed(2)} GiB` : `${(x / 2 ** 20).toFixed(1)} MiB`);
  const count = n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : String(n);
  if (cfg.peft) {
    const a = loraSpecs(mc, cfg.peft).reduce((s, m) => s + m.rank * (m.inF + m.outF), 0);
    return (
      `# GPU memory for LoRA training: the frozen base, ${count} parameters in its checkpoint's dtype ` +
      `(bf16: ${gib(2 * n)}, f32: ${gib(4 * n)}), no gradients or moments; adapters ${a} parameters x 16 bytes ` +
      `(f32 weights, gradients, AdamW moments) = ${gib(16 * a)}; plus activations\n`
    );
  }
  return (
    `# GPU memory for training (full fine-tuning, f32 master weights): ${count} parameters x 16 bytes = ` +
    `weights ${gib(4 * n)} + gradients ${gib(4 * n)} + AdamW moments ${gib(8 * n)} = ${gib(16 * n)}, plus activations\n`
  );
}

/**
 * Refuses, before the run folder gets its config or anything is allocated, a run whose model, batch
 * and sequence cannot fit this adapter (model/memory-plan.ts): parameters in the dtype training
 * keeps them in, gradients and AdamW moments of what trains, activations of local_batch_size rows
 * of dataset.seq_length tokens.
 */
export function checkRunFits(rt: Runtime, cfg: TrainConfig): void {
  const tok = cfg.model.path ? null : makeTokenizer(cfg);
  const mc = cfg.model.path
    ? loadConfig(cfg.model.path)
    : scratchModelConfig(cfg, tok!, cfg.dllm.mask_token_id ?? tok!.maskId);
  const td = cfg.model.torch_dtype;
  // LoRA keeps the base in its checkpoint's dtype, not known before its weights are opened: the
  // narrowest is assumed here, and loading checks the real one.
  const dtype = !cfg.peft ? 'f32' : td === 'float32' ? 'bf16' : parseDtype(td, 'model.torch_dtype');
  const lim = planLimits(rt);
  const plan = memoryPlan(
    {
      config: mc,
      dtype,
      rows: cfg.step_scheduler.local_batch_size,
      seq: cfg.dataset.seq_length,
      fullTraining: !cfg.peft,
      adapterParams: cfg.peft ? loraSpecs(mc, cfg.peft).reduce((s, m) => s + m.rank * (m.inF + m.outF), 0) : 0,
      backward: true,
      recompute: cfg.distributed.activation_checkpointing,
    },
    lim,
  );
  const shrink =
    'lower step_scheduler.local_batch_size (global_batch_size accumulates over several), dataset.seq_length or ' +
    'the model size';
  const recompute = cfg.distributed.activation_checkpointing ? '' : ', or turn on distributed.activation_checkpointing';
  checkPlan(plan, lim, 'train', shrink, recompute);
}

/**
 * Makes a model's tokenizer and config.json ids the ones training uses, so the checkpoints it saves
 * are self-consistent: fine-tuning a checkpoint with model.tokenizer = "char" (or a
 * dllm.mask_token_id of its own) saves that tokenizer and those ids, not the base model's.
 */
export function adoptTrainingIds(model: LLaDAModel, tokenizer: Tokenizer, maskId: number): void {
  model.tokenizer = tokenizer;
  model.config.mask_token_id = maskId;
  model.config.eos_token_id = tokenizer.eosId;
  model.config.pad_token_id = tokenizer.padId;
}

export async function buildRun(rt: Runtime, cfg: TrainConfig, configPath: string | null): Promise<RunParts> {
  const configDir = configPath ? dirname(resolve(configPath)) : process.cwd();
  const tokenizer = makeTokenizer(cfg);
  const train = loadSplit(cfg.dataset, cfg, tokenizer, 'train', configDir);
  if (!train)
    throw new UserError('[dataset] needs either path (a JSONL file) or task ("addition", "sort" or "reverse")');
  const val = loadSplit(cfg.validation_dataset, cfg, tokenizer, 'heldout', configDir);
  checkGenLength(cfg, train);
  if (val) checkGenLength(cfg, val);
  const maskId = cfg.dllm.mask_token_id ?? tokenizer.maskId;
  let model: LLaDAModel;
  if (cfg.model.path && cfg.peft) {
    // LoRA: the base stays frozen in its checkpoint's dtype (or a narrower torch_dtype) and only adapters train.
    const td = cfg.model.torch_dtype;
    model = await loadModel(cfg.model.path, { device: rt, dtype: td === 'float32' ? undefined : parseDtype(td, '') });
    try {
      const pf = cfg.peft;
      addLora(model, {
        ...pf,
        dropoutPosition: pf.dropout_position,
        init: pf.lora_A_init,
        seed: cfg.seed,
      });
    } catch (e) {
      model.dispose();
      throw e;
    }
  } else if (cfg.model.path) {
    model = await loadModel(cfg.model.path, { device: rt, dtype: 'f32' }); // f32 master weights
    adoptTrainingIds(model, tokenizer, maskId);
  } else {
    const mc = scratchModelConfig(cfg, tokenizer, maskId);
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
