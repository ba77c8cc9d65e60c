// The training config schema: every field with its type, default and a comment (nanoGPT's
// GPTConfig habit: typed defaults in code, one comment per field), grouped in the TOML sections of
// NVIDIA NeMo AutoModel's dLLM SFT recipe (examples/dllm_sft/llada_sft.yaml, dllm.mode = mdlm):
// step_scheduler, dllm, optimizer, clip_grad_norm, lr_scheduler, dataset, checkpoint, distributed
// (of NeMo's distributed section, only activation_checkpointing: one process, one GPU here). The
// TrainConfig type is derived from this table, so a field cannot have a type without a default and
// a comment. Deliberately no parsing or validation logic here (train/config.ts does that).
import { TASK_NAMES } from './task-names.ts';
import { PEFT_SCHEMA, type PeftConfig } from './config-peft.ts';

export interface FieldSpec<T> {
  kind: 'int' | 'number' | 'bool' | 'string' | 'enum' | 'numbers' | 'strings' | 'resume';
  default: T;
  doc: string;
  optional?: boolean; // may stay unset (absent from TOML, undefined in TrainConfig)
  min?: number;
  max?: number;
  exclusiveMin?: boolean;
  values?: readonly string[]; // enum
  length?: number; // numbers
  arch?: boolean; // model architecture: comes from the checkpoint when model.path is set
}

type Range = { min?: number; max?: number; exclusiveMin?: boolean };
const int = (d: number, doc: string, r: Range = {}): FieldSpec<number> => ({ kind: 'int', default: d, doc, ...r });
const num = (d: number, doc: string, r: Range = {}): FieldSpec<number> => ({ kind: 'number', default: d, doc, ...r });
const bool = (d: boolean, doc: string): FieldSpec<boolean> => ({ kind: 'bool', default: d, doc });
const str = (d: string, doc: string): FieldSpec<string> => ({ kind: 'string', default: d, doc });
const optInt = (doc: string, r: Range = {}): FieldSpec<number | undefined> => ({
  kind: 'int',
  default: undefined,
  optional: true,
  doc,
  ...r,
});
const optStr = (doc: string): FieldSpec<string | undefined> => ({
  kind: 'string',
  default: undefined,
  optional: true,
  doc,
});
const oneOf = <const V extends readonly string[]>(values: V, d: V[number], doc: string): FieldSpec<V[number]> => ({
  kind: 'enum',
  values,
  default: d,
  doc,
});
const optOneOf = <const V extends readonly string[]>(values: V, doc: string): FieldSpec<V[number] | undefined> => ({
  kind: 'enum',
  values,
  default: undefined,
  optional: true,
  doc,
});
const arch = <T>(f: FieldSpec<T>): FieldSpec<T> => ({ ...f, arch: true });

function datasetFields(role: 'training' | 'validation') {
  const heldOut =
    role === 'training'
      ? 'builtin tasks train on the prompts outside the held-out split'
      : 'builtin tasks evaluate on the held-out split, which training never sees';
  return {
    path: optStr(`JSONL file of ${role} data (relative paths: from the config file's folder); or set task`),
    task: optOneOf(TASK_NAMES, `builtin generated task instead of a file; ${heldOut}`),
    split_seed: int(1234, 'builtin tasks: seeds the held-out selection (same value in both dataset sections)', {
      min: 0,
    }),
    n_heldout: int(
      500,
      'builtin tasks: size of the held-out split (same value in both dataset sections); addition spreads it ' +
        'evenly over the operand-digit strata 1+1, 1+2, 2+1, 2+2, reverse over 2, 3 and 4 digits',
      { min: 1 },
    ),
    format: oneOf(
      ['auto', 'text', 'prompt_response', 'messages'] as const,
      'auto',
      'JSONL record shape; auto = detected from the first line',
    ),
    seq_length: int(16, 'tokens per row (T): SFT rows are padded with EOS to exactly this length', { min: 2 }),
    truncation: oneOf(
      ['truncate', 'drop', 'error'] as const,
      'truncate',
      'rows longer than seq_length: cut the answer, drop the row, or stop with an error',
    ),
    unshifted: bool(true, 'no next-token shift (required for masked diffusion; NeMo dataset.unshifted)'),
    use_chat_template: bool(false, 'prompt_response: wrap the prompt in the tokenizer chat template'),
    skip_malformed: bool(false, 'skip and count malformed JSONL lines instead of stopping'),
  };
}

export const SCHEMA = {
  name: str('addition', 'run name: names the run folder runs/<name>'),
  seed: int(42, 'seeds initialisation and MDLM masking (Philox key)', { min: 0 }),
  out: str('', 'run folder for checkpoints, metrics and plots; empty = runs/<name>'),
  resume: {
    kind: 'resume',
    default: false,
    doc: '"auto" = newest complete checkpoint in out (if any), false = start fresh, or a checkpoint folder',
  } as FieldSpec<'auto' | false | (string & {})>,
  model: {
    path: optStr('checkpoint folder to fine-tune (NeMo model.pretrained_model_name_or_path); unset = from scratch'),
    tokenizer: oneOf(
      ['auto', 'char', 'checkpoint'] as const,
      'auto',
      'char = builtin character tokenizer over charset; checkpoint = the one saved with model.path; auto picks',
    ),
    charset: str('0123456789+=', 'characters of the char tokenizer (special tokens are added by it)'),
    torch_dtype: oneOf(
      ['float32', 'bfloat16', 'float16'] as const,
      'float32',
      'weight storage (NeMo model.torch_dtype); full fine-tuning trains f32 master weights, so only float32',
    ),
    d_model: arch(int(64, 'model width C', { min: 1 })),
    n_layers: arch(int(2, 'transformer blocks L', { min: 1 })),
    n_heads: arch(int(4, 'attention heads H (d_model must be a multiple)', { min: 1 })),
    n_kv_heads: arch(int(4, 'key/value heads Hkv (divides n_heads; < n_heads = grouped-query attention)', { min: 1 })),
    mlp_hidden_size: arch(int(192, 'SwiGLU hidden width F', { min: 1 })),
    max_sequence_length: arch(int(64, 'longest sequence the model accepts (>= dataset.seq_length)', { min: 1 })),
    rope_theta: arch(num(10000, 'RoPE base frequency', { min: 0, exclusiveMin: true })),
    rms_norm_eps: arch(num(1e-5, 'RMSNorm epsilon', { min: 0, exclusiveMin: true })),
    init_std: arch(num(0.02, 'standard deviation of the normal initialisation', { min: 0, exclusiveMin: true })),
    weight_tying: arch(bool(false, 'share the embedding and output matrices')),
  },
  dllm: {
    mode: oneOf(['mdlm'] as const, 'mdlm', 'training strategy: mdlm = LLaDA-style masked diffusion'),
    mask_token_id: optInt("mask token id; unset = the tokenizer's mask token", { min: 0 }),
    eps: num(1e-3, 'minimum masking probability: p = (1 - eps) t + eps', { min: 0, max: 1, exclusiveMin: true }),
    supervise_padding: bool(true, 'train on the EOS padding after the answer (LLaDA: teaches when to stop)'),
    normalization: oneOf(
      ['token', 'answer_length'] as const,
      'token',
      'loss divisor: token = supervised tokens in the optimizer step; answer_length = LLaDA per-answer length',
    ),
  },
  dataset: {
    ...datasetFields('training'),
    n_examples: int(0, 'builtin tasks: training examples, 0 = all addition / reverse prompts, 20000 sort lists', {
      min: 0,
    }),
    balance_strata: bool(
      false,
      'builtin addition and reverse: repeat the rarer strata (addition 1+1, 1+2, 2+1; reverse 2 and 3 digits) ' +
        'to about as many rows as the largest',
    ),
    gen_length: {
      kind: 'numbers',
      default: [0, 0],
      length: 2,
      min: 0,
      doc:
        'SFT rows: each micro-batch draws G in [min, max] and lays rows out as prompt + G positions (answer, end, ' +
        'EOS padding), what sampling with --gen-length G gives the model; also for the validation loss; [0, 0] = off',
    } as FieldSpec<number[]>,
    shuffle_seed: int(42, 'seeds the per-epoch data order (NeMo dataset.shuffle_seed)', { min: 0 }),
  },
  validation_dataset: datasetFields('validation'),
  step_scheduler: {
    global_batch_size: int(64, 'sequences per optimizer step', { min: 1 }),
    local_batch_size: int(64, 'sequences per forward/backward; global / local = gradient accumulation', { min: 1 }),
    max_steps: int(6000, 'optimizer steps; 0 = derive from num_epochs', { min: 0 }),
    num_epochs: num(0, 'passes over the training data when max_steps = 0', { min: 0 }),
    ckpt_every_steps: int(1000, 'save a checkpoint every N steps (and at the end); 0 = only at the end', { min: 0 }),
    val_every_steps: int(500, 'validation loss every N steps; 0 = never', { min: 0 }),
    log_every_steps: int(50, 'log line and metrics record every N steps (reads the loss back)', { min: 1 }),
  },
  optimizer: {
    name: oneOf(['adamw'] as const, 'adamw', 'optimizer (AdamW, decoupled weight decay)'),
    lr: num(3e-3, 'peak learning rate', { min: 0, exclusiveMin: true }),
    betas: {
      kind: 'numbers',
      default: [0.9, 0.98],
      length: 2,
      min: 0,
      max: 0.999999,
      doc: 'AdamW (beta1, beta2)',
    } as FieldSpec<number[]>,
    eps: num(1e-8, 'AdamW epsilon', { min: 0, exclusiveMin: true }),
    weight_decay: num(0.1, 'decoupled weight decay', { min: 0 }),
  },
  clip_grad_norm: {
    max_norm: num(1.0, 'clip the global gradient L2 norm to this; 0 = off', { min: 0 }),
  },
  lr_scheduler: {
    lr_warmup_steps: int(200, 'linear warmup steps from init_lr to optimizer.lr', { min: 0 }),
    lr_decay_style: oneOf(['cosine', 'linear', 'constant'] as const, 'cosine', 'decay after warmup'),
    lr_decay_steps: int(0, 'step at which decay reaches min_lr; 0 = the last step', { min: 0 }),
    init_lr: num(0, 'learning rate at step 0', { min: 0 }),
    min_lr: num(3e-4, 'learning rate at the end of decay', { min: 0 }),
  },
  checkpoint: {
    enabled: bool(true, 'save checkpoints (every step_scheduler.ckpt_every_steps and at the end)'),
    save_dtype: oneOf(['f32', 'bf16'] as const, 'f32', 'dtype of saved weights'),
    keep_last: int(3, 'keep only the newest N checkpoints; 0 = keep all', { min: 0 }),
  },
  logging: {
    metrics_file: str('metrics.jsonl', 'metrics log in the run folder, one JSON object per event'),
    plot: bool(true, 'redraw the loss curve SVG at each log interval'),
    plot_file: str('loss.svg', 'loss curve file in the run folder'),
    plot_log_y: bool(false, 'log-scale loss axis'),
  },
  distributed: {
    activation_checkpointing: bool(
      false,
      "recompute each transformer block's activations in the backward instead of keeping them (NeMo " +
        'distributed.activation_checkpointing): activation memory of one block, one more forward of compute, ' +
        'gradients bit for bit the same',
    ),
  },
};

type AnySpec = FieldSpec<unknown>;
export type SchemaSection = Record<string, AnySpec>;
export type ConfigOf<S> = { -readonly [K in keyof S]: S[K] extends FieldSpec<infer T> ? T : ConfigOf<S[K]> };

/** `peft` is present only when the config has a [peft] section (LoRA); absent = full fine-tuning. */
export type TrainConfig = ConfigOf<typeof SCHEMA> & { peft?: PeftConfig };
export type ModelSection = TrainConfig['model'];
export type DllmConfig = TrainConfig['dllm'];
export type DatasetConfig = TrainConfig['dataset'];
export type ValidationDatasetConfig = TrainConfig['validation_dataset'];
export type StepSchedulerConfig = TrainConfig['step_scheduler'];
export type OptimizerConfig = TrainConfig['optimizer'];
export type LrSchedulerConfig = TrainConfig['lr_scheduler'];
export type CheckpointConfig = TrainConfig['checkpoint'];
export type LoggingConfig = TrainConfig['logging'];
export type DistributedConfig = TrainConfig['distributed'];

export function isFieldSpec(x: unknown): x is AnySpec {
  return typeof x === 'object' && x !== null && 'kind' in x && 'doc' in x;
}

/** Sections that exist only when the TOML has them (their presence means something). */
export const OPTIONAL_SECTIONS: ReadonlySet<string> = new Set(['peft']);

/** Section names in schema order; '' holds the top-level fields. */
export function schemaSections(): [string, SchemaSection][] {
  const top: SchemaSection = {};
  const out: [string, SchemaSection][] = [['', top]];
  for (const [k, v] of Object.entries(SCHEMA)) {
    if (isFieldSpec(v)) top[k] = v;
    else out.push([k, v]);
  }
  out.push(['peft', PEFT_SCHEMA]);
  return out;
}

/** A section's fields at their defaults. */
export function sectionDefaults(fields: SchemaSection): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(fields))
    out[k] = Array.isArray(f.default) ? [...(f.default as unknown[])] : f.default;
  return out;
}

export function defaultTrainConfig(): TrainConfig {
  const cfg: Record<string, unknown> = {};
  for (const [section, fields] of schemaSections()) {
    if (OPTIONAL_SECTIONS.has(section)) continue;
    if (section) cfg[section] = sectionDefaults(fields);
    else Object.assign(cfg, sectionDefaults(fields));
  }
  return cfg as TrainConfig;
}

/** The [distributed] keys with their defaults, for `train --help`. */
export function distributedHelp(): string {
  const lines = ["[distributed] (of NeMo's section, the one key that applies to one GPU):"];
  for (const [k, f] of Object.entries(SCHEMA.distributed))
    lines.push(`  ${k} = ${JSON.stringify(f.default)}  ${f.doc}`);
  return lines.join('\n');
}
