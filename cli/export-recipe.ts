// `export-recipe`: a dllm-wgpu training config as the equivalent NVIDIA NeMo AutoModel dLLM recipe,
// so a run that outgrows one GPU continues on NeMo's FSDP2 trainer. The shape is NeMo's
// examples/dllm_sft/llada_sft.yaml, or llada_lora.yaml when the config has [peft]; every field
// those files have is written. Our keys map to NeMo's of the same section and name where they
// exist (the TOML mirrors NeMo's sections); a NeMo field with no counterpart here gets the value
// NeMo's example uses and a comment; our keys with no NeMo field and a non-default value are
// listed at the end. Deliberately no TOML reading (cli/recipe-input.ts) and no file writing.
import { existsSync, readFileSync } from 'node:fs';
import { defaultTrainConfig, schemaSections, type DatasetConfig } from '../train/config-schema.ts';
import type { RecipeInput } from './recipe-input.ts';
import { float, map, toYaml, type YamlEntry, type YamlValue } from './yaml.ts';

const e = (key: string, value: YamlValue, comment?: string): YamlEntry => ({ key, value, comment });
const NEMO = 'nemo_automodel.components';
const NO_FIELD = "NeMo's example value (no dllm-wgpu counterpart)";

/** Where the JSONL rows of a builtin task were written (`--data-dir`), per dataset section. */
export interface TaskDataFiles {
  dataset?: string;
  validation_dataset?: string;
}

/** Our keys that have a NeMo field (same section and name unless the mapping below says otherwise). */
const MAPPED = new Set([
  'seed',
  'name',
  'out',
  'model.path',
  'model.torch_dtype',
  'model.tokenizer',
  ...['mode', 'mask_token_id', 'eps', 'supervise_padding'].map((k) => `dllm.${k}`),
  ...['path', 'task', 'format', 'seq_length', 'truncation', 'unshifted', 'shuffle_seed', 'n_examples']
    .flatMap((k) => [`dataset.${k}`, `validation_dataset.${k}`])
    .concat(['dataset.balance_strata', 'validation_dataset.split_seed', 'validation_dataset.n_heldout']),
  'dataset.split_seed',
  'dataset.n_heldout',
  ...['global_batch_size', 'local_batch_size', 'max_steps', 'num_epochs', 'ckpt_every_steps', 'val_every_steps'].map(
    (k) => `step_scheduler.${k}`,
  ),
  ...['name', 'lr', 'betas', 'eps', 'weight_decay'].map((k) => `optimizer.${k}`),
  'clip_grad_norm.max_norm',
  ...['lr_warmup_steps', 'lr_decay_style', 'lr_decay_steps', 'init_lr', 'min_lr'].map((k) => `lr_scheduler.${k}`),
  'checkpoint.enabled',
]);

function detectJsonlFormat(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const first = readFileSync(path, 'utf8')
    .split('\n')
    .find((l) => l.trim() !== '');
  try {
    const rec = JSON.parse(first ?? '') as Record<string, unknown>;
    if ('messages' in rec) return 'messages';
    if ('prompt' in rec && 'response' in rec) return 'prompt_response';
    if ('text' in rec) return 'text';
  } catch {
    // not JSON: leave the format unknown
  }
  return undefined;
}

function datasetMap(r: RecipeInput, d: DatasetConfig | RecipeInput['cfg']['validation_dataset'], file?: string) {
  const { cfg } = r;
  const path = d.task !== undefined ? file : d.path;
  const fmt = d.task !== undefined ? 'prompt_response' : d.format === 'auto' ? detectJsonlFormat(d.path!) : d.format;
  const entries: YamlEntry[] = [];
  let pathNote: string | undefined;
  if (d.task !== undefined) {
    pathNote = file
      ? `builtin task "${d.task}": its rows as prompt/response JSONL`
      : `builtin task "${d.task}" has no NeMo dataset: rerun with --data-dir DIR to write its rows as JSONL`;
  }
  if (fmt === 'messages') {
    entries.push(e('_target_', `${NEMO}.datasets.llm.chat_dataset.ChatDataset`, 'format "messages"'));
  } else {
    const why =
      fmt === 'prompt_response'
        ? 'prompt/response pairs; NeMo joins prompt and answer with a space'
        : `format ${JSON.stringify(fmt ?? d.format)}: NeMo's SFT datasets read prompt/response or messages records`;
    entries.push(
      e(
        '_target_',
        `${NEMO}.datasets.llm.column_mapped_text_instruction_dataset.ColumnMappedTextInstructionDataset`,
        why,
      ),
    );
    entries.push(e('column_mapping', map([e('question', 'prompt'), e('answer', 'response')])));
  }
  entries.push(e('path_or_dataset_id', path ?? null, pathNote));
  entries.push(e('split', 'train', 'a local JSONL file has one split'));
  if ('shuffle_seed' in d) entries.push(e('shuffle_seed', d.shuffle_seed));
  entries.push(e('seq_length', d.seq_length));
  const trunc = d.truncation === 'truncate' ? undefined : `"${d.truncation}" here; NeMo truncates`;
  entries.push(e('truncation', true, trunc));
  entries.push(e('unshifted', d.unshifted));
  const tok = cfg.model.tokenizer === 'checkpoint' ? (cfg.model.path ?? null) : null;
  const tokNote =
    tok === null
      ? `char tokenizer over ${JSON.stringify(cfg.model.charset)}: every checkpoint saves it as tokenizer.json; give that folder`
      : undefined;
  entries.push(e('tokenizer', map([e('pretrained_model_name_or_path', tok, tokNote), e('trust_remote_code', true)])));
  return map(entries);
}

/** Our keys with no NeMo field whose value is not the default, as "key = value" lines. */
function unmappedLines(r: RecipeInput): string[] {
  const defaults = defaultTrainConfig() as unknown as Record<string, unknown>;
  const cfg = r.cfg as unknown as Record<string, unknown>;
  const out: string[] = [];
  for (const [section, fields] of schemaSections()) {
    if (r.peft && section === 'peft') continue;
    if (section === 'distributed') continue;
    const v = (section ? cfg[section] : cfg) as Record<string, unknown> | undefined;
    const d = (section ? defaults[section] : defaults) as Record<string, unknown>;
    if (!v) continue; // an optional section the config does not have
    for (const k of Object.keys(fields)) {
      const full = section ? `${section}.${k}` : k;
      if (MAPPED.has(full) || v[k] === undefined || JSON.stringify(v[k]) === JSON.stringify(d[k])) continue;
      if (section === 'model' && fields[k].arch && r.cfg.model.path !== undefined) continue;
      out.push(`  ${full} = ${JSON.stringify(v[k])}`);
    }
  }
  return out;
}

/** The NeMo AutoModel recipe YAML for a training config. */
export function nemoRecipe(r: RecipeInput, source: string, data: TaskDataFiles = {}): string {
  const { cfg, peft } = r;
  const st = cfg.step_scheduler;
  const fromScratch = cfg.model.path === undefined;
  const top: YamlEntry[] = [e('recipe', 'DiffusionLMSFTRecipe')];
  const epochs = st.max_steps > 0 ? null : Math.ceil(st.num_epochs);
  top.push(
    e(
      'step_scheduler',
      map([
        e('global_batch_size', st.global_batch_size, 'over all GPUs: NeMo divides it by local_batch_size x dp_size'),
        e('local_batch_size', st.local_batch_size, 'per GPU'),
        e(
          'ckpt_every_steps',
          st.ckpt_every_steps || null,
          st.ckpt_every_steps ? undefined : '0 here = only at the end',
        ),
        e('val_every_steps', st.val_every_steps || null),
        e('max_steps', st.max_steps || null, st.max_steps ? undefined : 'from num_epochs'),
        e(
          'num_epochs',
          epochs,
          epochs === null ? 'from max_steps' : epochs !== st.num_epochs ? `${st.num_epochs} here` : undefined,
        ),
      ]),
    ),
  );
  top.push(e('dist_env', map([e('backend', 'nccl'), e('timeout_minutes', 10)]), NO_FIELD));
  top.push({ ...e('seed', cfg.seed, "seeds torch: masks and data order are NeMo's own draws"), note: [] });
  top.push(
    e(
      'wandb',
      map([e('enable', false), e('project', 'dllm-wgpu'), e('name', cfg.name)]),
      'dllm-wgpu logs to its run folder',
    ),
  );
  const modelNote = fromScratch
    ? 'trained from scratch here: NeMo starts from a pretrained model; give a dllm-wgpu checkpoint folder (HF layout)'
    : 'an HF model folder (or a hub id such as GSAI-ML/LLaDA-8B-Base)';
  top.push(
    e(
      'model',
      map([
        e('_target_', 'nemo_automodel.NeMoAutoModelForCausalLM.from_pretrained'),
        e('pretrained_model_name_or_path', cfg.model.path ?? null, modelNote),
        e('torch_dtype', cfg.model.torch_dtype),
        e('trust_remote_code', true, "LLaDA's modelling code ships with the checkpoint"),
      ]),
    ),
  );
  const ckpt = [
    e('enabled', cfg.checkpoint.enabled),
    e('checkpoint_dir', `${cfg.out}/`, 'run folder here'),
    e('model_save_format', 'safetensors'),
    peft
      ? e('save_consolidated', false, 'a LoRA run saves the adapter (PEFT layout)')
      : e('save_consolidated', true, 'an HF model folder: dllm-wgpu samples, evaluates and fine-tunes it unchanged'),
  ];
  top.push(e('checkpoint', map(ckpt)));
  if (peft) {
    top.push(
      e(
        'peft',
        map([
          e('_target_', `${NEMO}._peft.lora.PeftConfig`),
          e('target_modules', peft.target_modules),
          e('exclude_modules', peft.exclude_modules),
          e('match_all_linear', peft.match_all_linear),
          e('dim', peft.dim),
          e('alpha', peft.alpha),
          e('dropout', float(peft.dropout)),
          e('dropout_position', peft.dropout_position),
          e('lora_A_init', peft.lora_A_init),
          e('lora_dtype', peft.lora_dtype),
          e('use_triton', peft.use_triton, 'NeMo only (Triton kernels); no effect in dllm-wgpu'),
        ]),
      ),
    );
  }
  top.push(
    e(
      'distributed',
      map([
        e('strategy', 'fsdp2', 'parameters, gradients and optimizer state sharded over the GPUs'),
        e('dp_size', 'none', 'none = every GPU of the job'),
        e('tp_size', 1),
        e('cp_size', 1),
        e('pp_size', 1),
        e('sequence_parallel', false),
        e('activation_checkpointing', r.activationCheckpointing),
        e(
          'mp_policy',
          map([e('param_dtype', 'bfloat16'), e('reduce_dtype', 'float32'), e('output_dtype', 'float32')]),
          'bf16 compute; dllm-wgpu computes in f32',
        ),
        e('autocast_dtype', 'bfloat16'),
        e('offload_policy', null),
      ]),
      "NeMo's example values, but activation_checkpointing",
    ),
  );
  const norm = cfg.dllm.normalization === 'token' ? undefined : 'answer_length here: NeMo divides by supervised tokens';
  top.push(e('loss_fn', map([e('_target_', `${NEMO}.loss.masked_ce.MaskedCrossEntropy`, norm)])));
  top.push(
    e(
      'dllm',
      map([
        e('mode', cfg.dllm.mode),
        e(
          'mask_token_id',
          cfg.dllm.mask_token_id ?? null,
          cfg.dllm.mask_token_id === undefined ? "unset here = the tokenizer's mask token; LLaDA: 126336" : undefined,
        ),
        e('eps', float(cfg.dllm.eps)),
        e('supervise_padding', cfg.dllm.supervise_padding),
      ]),
    ),
  );
  const o = cfg.optimizer;
  top.push(
    e(
      'optimizer',
      map([
        e('_target_', 'torch.optim.AdamW'),
        e('betas', o.betas.map(float)),
        e('eps', float(o.eps)),
        e('lr', float(o.lr)),
        e(
          'weight_decay',
          float(o.weight_decay),
          o.weight_decay > 0 ? 'dllm-wgpu decays matrices only; torch decays all' : undefined,
        ),
      ]),
    ),
  );
  const mn = cfg.clip_grad_norm.max_norm;
  top.push(e('clip_grad_norm', map([e('max_norm', mn > 0 ? float(mn) : null, mn > 0 ? undefined : '0 here = off')])));
  const lr = cfg.lr_scheduler;
  const sched = [
    e('lr_decay_style', lr.lr_decay_style),
    e('init_lr', float(lr.init_lr)),
    e('min_lr', float(lr.min_lr)),
  ];
  sched.push(e('lr_warmup_steps', lr.lr_warmup_steps, 'written out: NeMo has its own default'));
  if (lr.lr_decay_steps > 0) sched.push(e('lr_decay_steps', lr.lr_decay_steps));
  top.push(e('lr_scheduler', map(sched)));
  top.push(e('dataset', datasetMap(r, cfg.dataset, data.dataset)));
  const vd = cfg.validation_dataset;
  if (vd.path !== undefined || vd.task !== undefined) {
    top.push(e('validation_dataset', datasetMap(r, vd, data.validation_dataset)));
  }
  top.push(
    e(
      'dataloader',
      map([
        e('_target_', 'torchdata.stateful_dataloader.StatefulDataLoader'),
        e('collate_fn', `${NEMO}.datasets.utils.default_collater`),
        e('group_by_length', true),
      ]),
      NO_FIELD,
    ),
  );
  const header = [
    `NVIDIA NeMo AutoModel recipe (${peft ? 'llada_lora.yaml' : 'llada_sft.yaml'} shape), written by dllm-wgpu export-recipe`,
    `from ${source}. Run it with NeMo's dLLM SFT entry point on one or many GPUs (FSDP2);`,
    'its consolidated HF checkpoints and PEFT adapters load in dllm-wgpu unchanged.',
  ];
  const left = unmappedLines(r);
  const footer = left.length ? ['', 'dllm-wgpu keys with no NeMo field (not carried over):', ...left] : [];
  return toYaml(header, top) + footer.map((l) => `# ${l}`.trimEnd()).join('\n') + (footer.length ? '\n' : '');
}
