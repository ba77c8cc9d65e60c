// Model shapes for `dllm-wgpu bench scale`: the config.json a random-weight checkpoint is written
// with. llada-8b is GSAI-ML/LLaDA-8B-Base's published config.json, field for field (Hugging Face
// Hub, GSAI-ML/LLaDA-8B-Base/config.json). llada-1b is the "LLaDA 1B" column of the architecture
// table of the LLaDA paper (Nie et al. 2025, arXiv:2502.09992, appendix B, Table 5: 22 layers,
// d_model 2048, 32 heads, 4 key/value heads, FFN 5634, vocabulary 126464; 1.49B parameters, 0.97B
// without the embeddings, which these shapes reproduce) with every other field as the 8B's; no
// 1B checkpoint was published. tiny keeps the 8B's fields with small shapes, for tests and for a
// quick check that fits any adapter.
// Also the shape of the LoRA case (`bench scale --lora`, scale-lora.ts): batch 1 of 64 tokens, two steps.
// Deliberately not here: writing (scale-checkpoint.ts), measuring (scale.ts, scale-lora.ts).

import { LLADA_8B_BASE_CONFIG } from '../model/llada-8b-config.ts';

export type ScalePresetName = 'llada-8b' | 'llada-1b' | 'tiny';

export interface ScalePreset {
  name: ScalePresetName;
  /** The config.json object (n_layers is replaced by --layers). */
  config: Record<string, unknown>;
  /** Where the shape comes from, for --help and the report. */
  source: string;
}

const LLADA_8B_BASE: Record<string, unknown> = LLADA_8B_BASE_CONFIG;

export const SCALE_PRESETS: Record<ScalePresetName, ScalePreset> = {
  'llada-8b': {
    name: 'llada-8b',
    config: LLADA_8B_BASE,
    source: "GSAI-ML/LLaDA-8B-Base's config.json",
  },
  'llada-1b': {
    name: 'llada-1b',
    config: { ...LLADA_8B_BASE, d_model: 2048, n_layers: 22, n_heads: 32, n_kv_heads: 4, mlp_hidden_size: 5634 },
    source: 'LLaDA 1B of the LLaDA paper (arXiv:2502.09992, Table 5), other fields as LLaDA-8B-Base',
  },
  tiny: {
    name: 'tiny',
    config: {
      ...LLADA_8B_BASE,
      d_model: 64,
      n_layers: 4,
      n_heads: 4,
      n_kv_heads: 4,
      mlp_hidden_size: 192,
      vocab_size: 1024,
      embedding_size: 1024,
      eos_token_id: 1000,
      pad_token_id: 1000,
      mask_token_id: 1001,
    },
    source: "LLaDA-8B-Base's fields with d_model 64, 4 layers, 4 heads, MLP 192, vocabulary 1024",
  },
};

export const PRESET_NAMES = Object.keys(SCALE_PRESETS) as ScalePresetName[];

/** `bench scale --lora`: rows x tokens per step and optimizer steps (the adapters: bench/train-step.ts). */
export const SCALE_LORA = { batch: 1, seqLength: 64, steps: 2 };
