// Cross-field checks of a training config whose fields each already have the right type: the rules
// that need two fields at once (batch sizes divide, exactly one data source, held-out split shared,
// architecture consistent, schedule sane). Each problem names the keys involved and where they are.
// Deliberately no type checks (train/config.ts) and no file-system checks: a missing dataset file
// is reported by train/data.ts when it is opened, with its path.
import type { TrainConfig } from './config-schema.ts';
import { SCHEMA } from './config-schema.ts';

type Where = (section: string, key?: string) => string;

const ARCH_KEYS = Object.entries(SCHEMA.model)
  .filter(([, f]) => f.arch)
  .map(([k]) => k);

export function checkTrainConfig(cfg: TrainConfig, explicit: ReadonlySet<string>, where: Where): string[] {
  const p: string[] = [];
  const bad = (section: string, key: string | undefined, msg: string) => p.push(`${where(section, key)}: ${msg}`);
  const { model, dataset: ds, validation_dataset: val, step_scheduler: st, lr_scheduler: lr } = cfg;
  const datasets = [
    ['dataset', ds],
    ['validation_dataset', val],
  ] as const;

  if (!/^[A-Za-z0-9._-]+$/.test(cfg.name) || /^\.+$/.test(cfg.name)) {
    bad(
      '',
      'name',
      `name ${JSON.stringify(cfg.name)} names a folder: use letters, digits, '.', '_', '-' (not only dots)`,
    );
  }

  if (model.torch_dtype !== 'float32' && !cfg.peft) {
    bad(
      'model',
      'torch_dtype',
      `model.torch_dtype = "${model.torch_dtype}" stores frozen 16-bit weights, but full fine-tuning trains every ` +
        'weight in f32 (a bf16 checkpoint is widened on load): set torch_dtype = "float32"; ' +
        'checkpoint.save_dtype = "bf16" saves bf16 weights',
    );
  }

  if (model.path !== undefined) {
    for (const k of ARCH_KEYS) {
      if (explicit.has(`model.${k}`)) {
        bad('model', k, `model.${k} conflicts with model.path: the architecture comes from the checkpoint`);
      }
    }
  } else {
    if (model.tokenizer === 'checkpoint') bad('model', 'tokenizer', 'model.tokenizer = "checkpoint" needs model.path');
    const { d_model: C, n_heads: H, n_kv_heads: Hkv } = model;
    if (C % H !== 0) bad('model', 'd_model', `model.d_model (${C}) must be a multiple of model.n_heads (${H})`);
    else if ((C / H) % 2 !== 0) bad('model', 'd_model', `head dim d_model / n_heads = ${C / H} must be even for RoPE`);
    if (H % Hkv !== 0)
      bad('model', 'n_kv_heads', `model.n_heads (${H}) must be a multiple of model.n_kv_heads (${Hkv})`);
    for (const [section, d] of datasets) {
      if (d.seq_length > model.max_sequence_length) {
        const msg = `${section}.seq_length (${d.seq_length}) exceeds model.max_sequence_length (${model.max_sequence_length})`;
        bad(section, 'seq_length', msg);
      }
    }
  }
  if (model.tokenizer === 'char' || (model.tokenizer === 'auto' && model.path === undefined)) {
    const chars = [...model.charset];
    if (chars.length === 0) bad('model', 'charset', 'model.charset is empty');
    const dup = chars.find((c, i) => chars.indexOf(c) !== i);
    if (dup !== undefined) bad('model', 'charset', `model.charset repeats ${JSON.stringify(dup)}`);
  }

  if ((ds.path === undefined) === (ds.task === undefined)) {
    const both = ds.path !== undefined ? ', not both' : '';
    bad(
      'dataset',
      undefined,
      `[dataset] needs exactly one of path (a JSONL file) or task ("addition" | "sort" | "reverse")${both}`,
    );
  }
  if (val.path !== undefined && val.task !== undefined) {
    bad('validation_dataset', undefined, '[validation_dataset] takes path or task, not both');
  }
  if (ds.task !== undefined && val.task === ds.task) {
    for (const k of ['split_seed', 'n_heldout'] as const) {
      if (val[k] === ds[k]) continue;
      const msg = `validation_dataset.${k} (${val[k]}) differs from dataset.${k} (${ds[k]})`;
      bad('validation_dataset', k, `${msg}; the held-out prompts would overlap the training prompts`);
    }
  }
  for (const [section, d] of datasets) {
    if (!d.unshifted) {
      const why = 'next-token shift is not supported: masked diffusion predicts tokens in place';
      bad(section, 'unshifted', `${section}.unshifted = false: ${why}`);
    }
    if (d.format === 'messages' && d.task !== undefined) {
      bad(section, 'format', 'builtin tasks are prompt/response pairs; format "messages" needs a path');
    }
  }

  if (ds.balance_strata && ds.task !== 'addition' && ds.task !== 'reverse') {
    const what = ds.task === undefined ? 'a JSONL dataset' : `task "${ds.task}"`;
    const msg = `dataset.balance_strata balances the addition and reverse tasks' strata; ${what} has none`;
    bad('dataset', 'balance_strata', msg);
  }

  const [gMin, gMax] = ds.gen_length;
  if (gMin !== 0 || gMax !== 0) {
    const g = `dataset.gen_length ([${ds.gen_length.join(', ')}])`;
    if (!Number.isInteger(gMin) || !Number.isInteger(gMax)) bad('dataset', 'gen_length', `${g} must be integers`);
    else if (gMin < 1 || gMin > gMax) bad('dataset', 'gen_length', `${g} must be [min, max] with 1 <= min <= max`);
    else if (gMax >= ds.seq_length) {
      const why = 'rows hold prompt + answer in seq_length tokens, so the gen length must leave room for a prompt';
      bad('dataset', 'gen_length', `${g}: max must be below dataset.seq_length (${ds.seq_length}); ${why}`);
    }
    if (ds.format === 'text') {
      bad('dataset', 'gen_length', `${g} lays out prompt/response rows; format "text" has no prompt (set [0, 0])`);
    }
  }

  if (st.global_batch_size % st.local_batch_size !== 0) {
    const msg = `step_scheduler.global_batch_size (${st.global_batch_size}) must be a multiple of`;
    bad('step_scheduler', 'local_batch_size', `${msg} step_scheduler.local_batch_size (${st.local_batch_size})`);
  }
  if (st.max_steps === 0 && st.num_epochs === 0) {
    bad('step_scheduler', 'max_steps', 'set step_scheduler.max_steps or step_scheduler.num_epochs (both are 0)');
  }

  const peak = cfg.optimizer.lr;
  if (lr.min_lr > peak)
    bad('lr_scheduler', 'min_lr', `lr_scheduler.min_lr (${lr.min_lr}) exceeds optimizer.lr (${peak})`);
  if (lr.init_lr > peak)
    bad('lr_scheduler', 'init_lr', `lr_scheduler.init_lr (${lr.init_lr}) exceeds optimizer.lr (${peak})`);
  const decay = `lr_scheduler.lr_decay_steps (${lr.lr_decay_steps})`;
  if (st.max_steps > 0 && lr.lr_decay_steps > st.max_steps) {
    bad('lr_scheduler', 'lr_decay_steps', `${decay} exceeds step_scheduler.max_steps (${st.max_steps})`);
  }
  if (lr.lr_decay_steps > 0 && lr.lr_decay_steps < lr.lr_warmup_steps) {
    bad('lr_scheduler', 'lr_decay_steps', `${decay} ends before warmup does (${lr.lr_warmup_steps})`);
  }

  if (cfg.peft) {
    const pf = cfg.peft;
    if (model.path === undefined) {
      bad('peft', undefined, '[peft] adapts a trained base: set model.path to its checkpoint folder');
    }
    if (pf.target_modules.length > 0 && pf.exclude_modules.length > 0) {
      bad('peft', 'exclude_modules', 'peft.target_modules and peft.exclude_modules are mutually exclusive (as NeMo)');
    }
    if (pf.match_all_linear && (pf.target_modules.length > 0 || pf.exclude_modules.length > 0)) {
      bad(
        'peft',
        'match_all_linear',
        'peft.match_all_linear = true takes no target_modules / exclude_modules (as NeMo)',
      );
    }
  }

  for (const k of ['metrics_file', 'plot_file'] as const) {
    const f = cfg.logging[k];
    if (f === '' || f.includes('/') || f.includes('\\')) {
      bad('logging', k, `logging.${k} must be a plain file name inside the run folder, got ${JSON.stringify(f)}`);
    }
  }
  return p;
}
