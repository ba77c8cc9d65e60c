// LLaDA model configuration: the `ModelConfig` type with LLaDA's own snake_case field names, a
// parser for the config.json LLaDA publishes on the Hugging Face Hub, the inverse writer, and
// derived sizes (head dim, key/value heads, parameter count).
// Deliberately not here: reading and writing the file (config-file.ts; this module runs in a
// browser too), tensor names (names.ts), weights (safetensors.ts), training knobs.
// Field meanings and the defaults for absent fields follow LLaDA's configuration_llada.py
// (ModelConfig dataclass, GSAI-ML/LLaDA-8B-Base on the Hub); the supported subset is the one
// LLaDA-8B uses: llama block, RMSNorm, SiLU-gated MLP, RoPE, no biases.

import { UserError } from '../engine/errors.ts';
import { readConfigFields } from './config-fields.ts';
import type { Tokenizer } from './tokenizer.ts';

export type InitFn = 'mitchell' | 'normal' | 'kaiming_normal' | 'fan_in' | 'full_megatron';

export interface ModelConfig {
  d_model: number; // C: hidden width
  n_heads: number; // H: query heads
  n_kv_heads: number | null; // Hkv; null means "from multi_query_attention, else n_heads"
  n_layers: number; // L: transformer blocks
  mlp_ratio: number; // F = mlp_ratio * C when mlp_hidden_size is null
  mlp_hidden_size: number | null; // F: MLP hidden width
  activation_type: 'silu'; // gate activation: silu(ff_proj x) * up_proj x
  block_type: 'llama'; // separate q/k/v projections and a gated MLP (LLaDALlamaBlock)
  block_group_size: 1; // >1 renames tensors to block_groups.*; not supported
  alibi: false;
  alibi_bias_max: number; // unused without ALiBi, kept for round trips
  rope: true;
  rope_full_precision: boolean; // we compute RoPE in f32 either way
  rope_theta: number; // RoPE base
  flash_attention: boolean; // a PyTorch kernel choice; no effect here
  attention_dropout: number; // dropout is not implemented here: fine-tuning runs without it
  residual_dropout: number; // ditto
  embedding_dropout: number; // ditto
  multi_query_attention: boolean | null; // true means one key/value head
  attention_layer_norm: false; // q/k norms: not supported
  attention_layer_norm_with_affine: boolean; // only meaningful with attention_layer_norm
  input_emb_norm: false; // sqrt(C) embedding scale: not supported
  layer_norm_type: 'rms';
  layer_norm_with_affine: true; // norms carry a weight vector
  bias_for_layer_norm: false | null; // null inherits include_bias (false)
  rms_norm_eps: number; // epsilon inside the RMSNorm square root
  max_sequence_length: number; // longest sequence the RoPE tables are sized for
  include_bias: false;
  include_qkv_bias: false;
  scale_logits: boolean; // multiply logits by 1/sqrt(C)
  vocab_size: number; // V: tokenizer vocabulary
  embedding_size: number | null; // rows of wte / ff_out; null means vocab_size
  weight_tying: boolean; // logits from wte instead of a separate ff_out
  eos_token_id: number;
  pad_token_id: number;
  mask_token_id: number; // the [MASK] token the diffusion process absorbs into
  init_device: string | null; // PyTorch device hint; ignored here
  init_fn: InitFn; // weight initialisation scheme for from-scratch models
  init_std: number; // std for "normal" init
  init_cutoff_factor: number | null; // truncation of "normal" init, in stds
  precision: string | null; // PyTorch training precision hint; ignored here
}

export function headDim(cfg: ModelConfig): number {
  return cfg.d_model / cfg.n_heads;
}

/** Effective key/value heads, as configuration_llada.py's effective_n_kv_heads. */
export function kvHeads(cfg: ModelConfig): number {
  if (cfg.n_kv_heads !== null) return cfg.n_kv_heads;
  return cfg.multi_query_attention === true ? 1 : cfg.n_heads;
}

export function mlpHidden(cfg: ModelConfig): number {
  return cfg.mlp_hidden_size ?? cfg.mlp_ratio * cfg.d_model;
}

/** Rows of the embedding and output matrices (may exceed vocab_size for padding). */
export function embeddingRows(cfg: ModelConfig): number {
  return cfg.embedding_size ?? cfg.vocab_size;
}

/** Number of parameters; equals the sum over names.ts's parameterTable (tested). */
export function paramCount(cfg: ModelConfig): number {
  const C = cfg.d_model;
  const F = mlpHidden(cfg);
  const KV = kvHeads(cfg) * headDim(cfg);
  const E = embeddingRows(cfg);
  const block = 2 * C + 2 * C * C + 2 * KV * C + 3 * F * C;
  return E * C + cfg.n_layers * block + C + (cfg.weight_tying ? 0 : E * C);
}

/** Defaults of LLaDA's ModelConfig dataclass, used for fields absent from a config.json. */
export const LLADA_DEFAULTS = {
  d_model: 768,
  n_heads: 12,
  n_kv_heads: null,
  n_layers: 12,
  mlp_ratio: 4,
  mlp_hidden_size: null,
  activation_type: 'swiglu',
  block_type: 'sequential',
  block_group_size: 1,
  alibi: false,
  alibi_bias_max: 8.0,
  rope: false,
  rope_full_precision: true,
  rope_theta: 10000.0,
  flash_attention: false,
  attention_dropout: 0.1,
  residual_dropout: 0.1,
  embedding_dropout: 0.1,
  multi_query_attention: null,
  attention_layer_norm: false,
  attention_layer_norm_with_affine: true,
  input_emb_norm: false,
  layer_norm_type: 'default',
  layer_norm_with_affine: true,
  bias_for_layer_norm: null,
  rms_norm_eps: 1e-5,
  max_sequence_length: 1024,
  include_bias: false,
  include_qkv_bias: false,
  scale_logits: false,
  vocab_size: 50257,
  embedding_size: 50304,
  weight_tying: true,
  eos_token_id: 50256,
  pad_token_id: 50256,
  mask_token_id: 50256,
  init_device: null,
  init_fn: 'normal',
  init_std: 0.02,
  init_cutoff_factor: null,
  precision: null,
} as const;

/** Parse and validate LLaDA's config.json (already JSON-parsed). `source` names the file. */
export function parseConfig(json: unknown, source: string): ModelConfig {
  return readConfigFields(json, source, LLADA_DEFAULTS);
}

/** config.json's text (read or fetched; `path` names it in errors) as a ModelConfig. */
export function parseConfigText(text: string, path: string): ModelConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseConfig(json, path);
}

/** A config's vocabulary and special-token fields as a tokenizer defines them (the embedding as wide as the vocabulary). */
export function tokenizerConfigFields(
  tok: Pick<Tokenizer, 'vocabSize' | 'maskId' | 'eosId' | 'padId'>,
): Pick<ModelConfig, 'vocab_size' | 'embedding_size' | 'mask_token_id' | 'eos_token_id' | 'pad_token_id'> {
  return {
    vocab_size: tok.vocabSize,
    embedding_size: tok.vocabSize,
    mask_token_id: tok.maskId,
    eos_token_id: tok.eosId,
    pad_token_id: tok.padId,
  };
}

/**
 * Defaults for a small model trained from scratch: LLaDA-8B's architecture and F = 3C ratio, RoPE
 * base 10000 for short contexts, and special ids where buildCharTokenizer puts them
 * (<|endoftext|> = 0, <|mdm_mask|> = 2). Validated like a config.json.
 */
export function createConfig(partial: Partial<ModelConfig> = {}): ModelConfig {
  const dModel = partial.d_model ?? 128;
  const vocab = partial.vocab_size ?? 64;
  const base = {
    ...LLADA_DEFAULTS,
    d_model: dModel,
    n_heads: 4,
    n_kv_heads: null,
    n_layers: 2,
    mlp_hidden_size: 3 * dModel,
    activation_type: 'silu',
    block_type: 'llama',
    rope: true,
    rope_theta: 10000,
    attention_dropout: 0,
    residual_dropout: 0,
    embedding_dropout: 0,
    layer_norm_type: 'rms',
    bias_for_layer_norm: false,
    max_sequence_length: 256,
    vocab_size: vocab,
    embedding_size: vocab,
    weight_tying: false,
    eos_token_id: 0,
    pad_token_id: 0,
    mask_token_id: 2,
    init_fn: 'mitchell',
  };
  return readConfigFields({ ...base, ...dropUndefined(partial) }, 'createConfig', LLADA_DEFAULTS);
}

function dropUndefined(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

export type TorchDtype = 'float32' | 'bfloat16' | 'float16';

/**
 * A config.json that Hugging Face transformers loads with trust_remote_code (the directory also
 * needs LLaDA's configuration_llada.py and modeling_llada.py, which we do not ship). Keys sorted,
 * as transformers writes them.
 */
export function configToJson(cfg: ModelConfig, opts: { torchDtype?: TorchDtype } = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ...cfg,
    architectures: ['LLaDAModelLM'],
    auto_map: {
      AutoConfig: 'configuration_llada.LLaDAConfig',
      AutoModel: 'modeling_llada.LLaDAModelLM',
      AutoModelForCausalLM: 'modeling_llada.LLaDAModelLM',
    },
    model_type: 'llada',
    torch_dtype: opts.torchDtype ?? 'float32',
    use_cache: false,
  };
  return Object.fromEntries(
    Object.keys(out)
      .sort()
      .map((k) => [k, out[k]]),
  );
}
