// Field-by-field reading and validation of a LLaDA config object for config.ts: types, LLaDA's
// defaults for absent fields, the supported subset, and cross-field rules. Every refusal is a
// UserError naming the source, the field, the value and what is supported.
// Deliberately not here: file io and the ModelConfig type (config.ts).
// Rules mirror what LLaDA's modeling_llada.py asserts or needs (d_model % n_heads, GQA divisibility,
// embedding_size >= vocab_size, effective_n_kv_heads) plus what this engine implements.

import { UserError } from '../engine/errors.ts';
import type { InitFn, ModelConfig } from './config.ts';

const INIT_FNS: readonly InitFn[] = ['mitchell', 'normal', 'kaiming_normal', 'fan_in', 'full_megatron'];

// Keys that forks of LLaDA add to change the architecture; refused unless null/false/absent.
const REFUSED_EXTRAS = ['clip_qkv', 'yarn', 'rope_scaling'] as const;

function show(v: unknown): string {
  if (v === undefined) return 'absent';
  const s = JSON.stringify(v);
  if (s !== undefined) return s.length > 80 ? s.slice(0, 77) + '...' : s;
  // JSON.stringify gives undefined for functions and symbols (and objects whose toJSON does)
  return typeof v === 'function' || typeof v === 'symbol' ? v.toString() : Object.prototype.toString.call(v);
}

class Reader {
  constructor(
    private readonly obj: Record<string, unknown>,
    private readonly source: string,
    private readonly defaults: Record<string, unknown>,
  ) {}

  private get(key: string): { v: unknown; given: boolean } {
    return Object.hasOwn(this.obj, key) ? { v: this.obj[key], given: true } : { v: this.defaults[key], given: false };
  }

  fail(key: string, value: unknown, given: boolean, what: string): UserError {
    const note = given ? '' : " (LLaDA's default when the field is absent)";
    return new UserError(`${this.source}: field "${key}" is ${show(value)}${note}; ${what}`);
  }

  value(key: string): unknown {
    return this.get(key).v;
  }

  /** A cross-field failure blamed on `key`, with its effective value. */
  failField(key: string, what: string): UserError {
    const { v, given } = this.get(key);
    return this.fail(key, v, given, what);
  }

  int(key: string, min: number): number {
    const { v, given } = this.get(key);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      throw this.fail(key, v, given, `expected an integer >= ${min}`);
    }
    return v;
  }

  intOrNull(key: string, min: number): number | null {
    return this.get(key).v === null ? null : this.int(key, min);
  }

  num(key: string, rule: 'positive' | 'probability' | 'finite'): number {
    const { v, given } = this.get(key);
    const ok =
      typeof v === 'number' &&
      Number.isFinite(v) &&
      (rule === 'finite' || (rule === 'positive' ? v > 0 : v >= 0 && v < 1));
    if (!ok) {
      const what = {
        positive: 'a positive finite number',
        probability: 'a number in [0, 1)',
        finite: 'a finite number',
      };
      throw this.fail(key, v, given, `expected ${what[rule]}`);
    }
    return v;
  }

  numOrNull(key: string, rule: 'positive'): number | null {
    return this.get(key).v === null ? null : this.num(key, rule);
  }

  bool(key: string): boolean {
    const { v, given } = this.get(key);
    if (typeof v !== 'boolean') throw this.fail(key, v, given, 'expected true or false');
    return v;
  }

  boolOrNull(key: string): boolean | null {
    return this.get(key).v === null ? null : this.bool(key);
  }

  strOrNull(key: string): string | null {
    const { v, given } = this.get(key);
    if (v !== null && typeof v !== 'string') throw this.fail(key, v, given, 'expected a string or null');
    return v;
  }

  /** A field whose only supported value is `want`; `why` says what the engine implements. */
  exactly<T extends string | number | boolean>(key: string, want: T, why: string): T {
    const { v, given } = this.get(key);
    if (v !== want) throw this.fail(key, v, given, `supported: ${show(want)} only (${why})`);
    return want;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const { v, given } = this.get(key);
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      throw this.fail(key, v, given, `supported: ${allowed.map((a) => show(a)).join(', ')}`);
    }
    return v as T;
  }
}

export function readConfigFields(json: unknown, source: string, defaults: Record<string, unknown>): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UserError(`${source}: the model config must be a JSON object, got ${show(json)}`);
  }
  const obj = json as Record<string, unknown>;
  const r = new Reader(obj, source, defaults);

  if (Object.hasOwn(obj, 'model_type') && obj.model_type !== 'llada') {
    throw r.fail('model_type', obj.model_type, true, 'supported: "llada" (LLaDA checkpoints) only');
  }
  if (
    Object.hasOwn(obj, 'architectures') &&
    !(Array.isArray(obj.architectures) && obj.architectures.includes('LLaDAModelLM'))
  ) {
    throw r.fail('architectures', obj.architectures, true, 'expected a list containing "LLaDAModelLM"');
  }
  for (const key of REFUSED_EXTRAS) {
    const v = obj[key];
    if (Object.hasOwn(obj, key) && v !== null && v !== false) {
      throw r.fail(key, v, true, 'not supported: only null or absent');
    }
  }

  const cfg: ModelConfig = {
    d_model: r.int('d_model', 1),
    n_heads: r.int('n_heads', 1),
    n_kv_heads: r.intOrNull('n_kv_heads', 1),
    n_layers: r.int('n_layers', 1),
    mlp_ratio: r.int('mlp_ratio', 1),
    mlp_hidden_size: r.intOrNull('mlp_hidden_size', 1),
    activation_type: checkActivation(r),
    block_type: r.exactly('block_type', 'llama', 'the LLaDA-8B block: separate q/k/v and a gated MLP'),
    block_group_size: r.exactly('block_group_size', 1, 'block groups rename the weights'),
    alibi: r.exactly('alibi', false, 'positions come from RoPE'),
    alibi_bias_max: r.num('alibi_bias_max', 'finite'),
    rope: r.exactly('rope', true, 'positions come from RoPE; learned position embeddings are not implemented'),
    rope_full_precision: r.bool('rope_full_precision'),
    rope_theta: r.num('rope_theta', 'positive'),
    flash_attention: r.bool('flash_attention'),
    attention_dropout: r.num('attention_dropout', 'probability'),
    residual_dropout: r.num('residual_dropout', 'probability'),
    embedding_dropout: r.num('embedding_dropout', 'probability'),
    multi_query_attention: r.boolOrNull('multi_query_attention'),
    attention_layer_norm: r.exactly('attention_layer_norm', false, 'q/k layer norms are not implemented'),
    attention_layer_norm_with_affine: r.bool('attention_layer_norm_with_affine'),
    input_emb_norm: r.exactly('input_emb_norm', false, 'embedding scaling is not implemented'),
    layer_norm_type: r.exactly('layer_norm_type', 'rms', 'RMSNorm is the only norm implemented'),
    layer_norm_with_affine: r.exactly('layer_norm_with_affine', true, 'norms carry a weight vector'),
    bias_for_layer_norm: checkNormBias(r),
    rms_norm_eps: r.num('rms_norm_eps', 'positive'),
    max_sequence_length: r.int('max_sequence_length', 1),
    include_bias: r.exactly('include_bias', false, 'linear layers have no bias'),
    include_qkv_bias: r.exactly('include_qkv_bias', false, 'q/k/v projections have no bias'),
    scale_logits: r.bool('scale_logits'),
    vocab_size: r.int('vocab_size', 1),
    embedding_size: r.intOrNull('embedding_size', 1),
    weight_tying: r.bool('weight_tying'),
    eos_token_id: r.int('eos_token_id', 0),
    pad_token_id: r.int('pad_token_id', 0),
    mask_token_id: r.int('mask_token_id', 0),
    init_device: r.strOrNull('init_device'),
    init_fn: r.oneOf('init_fn', INIT_FNS),
    init_std: r.num('init_std', 'positive'),
    init_cutoff_factor: r.numOrNull('init_cutoff_factor', 'positive'),
    precision: r.strOrNull('precision'),
  };
  checkShapes(cfg, r);
  return cfg;
}

function checkActivation(r: Reader): 'silu' {
  if (r.value('activation_type') === 'swiglu') {
    // In LLaDA's llama block ff_out takes output_multiplier * hidden inputs and SwiGLU's
    // multiplier is 0.5, so a llama block with swiglu cannot run in LLaDA's own code either.
    throw r.failField(
      'activation_type',
      'supported: "silu" only (the llama block gates silu(ff_proj x) * up_proj x; swiglu would halve ff_out\'s input)',
    );
  }
  return r.exactly('activation_type', 'silu', 'the llama block gates silu(ff_proj x) * up_proj x');
}

function checkNormBias(r: Reader): false | null {
  const v = r.boolOrNull('bias_for_layer_norm');
  if (v === true) throw r.failField('bias_for_layer_norm', 'supported: false or null (norms have no bias)');
  return v;
}

function checkShapes(cfg: ModelConfig, r: Reader): void {
  const { d_model: C, n_heads: H } = cfg;
  if (C % H !== 0) {
    throw r.failField('n_heads', `d_model (${C}) must be divisible by n_heads`);
  }
  if ((C / H) % 2 !== 0) {
    throw r.failField('n_heads', `head dim d_model / n_heads = ${C / H} must be even for RoPE`);
  }
  const mqa = cfg.multi_query_attention;
  if (cfg.n_kv_heads !== null && mqa !== null && cfg.n_kv_heads !== (mqa ? 1 : H)) {
    throw r.failField(
      'multi_query_attention',
      `conflicts with n_kv_heads = ${cfg.n_kv_heads} (LLaDA requires ${mqa ? 1 : H}); set one of them to null`,
    );
  }
  const kv = cfg.n_kv_heads ?? (mqa === true ? 1 : H);
  if (H % kv !== 0) {
    throw r.failField('n_kv_heads', `n_heads (${H}) must be divisible by n_kv_heads (${kv})`);
  }
  const rows = cfg.embedding_size ?? cfg.vocab_size;
  if (rows < cfg.vocab_size) {
    throw r.failField('embedding_size', `must be >= vocab_size (${cfg.vocab_size})`);
  }
  for (const key of ['eos_token_id', 'pad_token_id', 'mask_token_id'] as const) {
    if (cfg[key] >= rows) {
      throw r.failField(key, `must be below the embedding rows (${rows})`);
    }
  }
}
