// Reads a training config for `export-recipe`: the validated TrainConfig (the training loader
// checks every section, [peft] and [distributed] included, with file:line messages) and, in NeMo's
// terms, the two things NeMo's LoRA recipe adds to the SFT one: the peft block (NeMo's PeftConfig,
// field for field) and distributed.activation_checkpointing. A [peft] section (or a --set peft.key)
// is what makes a config a LoRA recipe. Deliberately no mapping to NeMo here (cli/export-recipe.ts)
// and no file writing.
import { loadTrainConfig, type TrainConfig } from '../train/config.ts';

/** NeMo AutoModel's PeftConfig defaults (nemo_automodel/components/_peft/lora.py), in its field order. */
export const NEMO_PEFT_DEFAULTS = {
  target_modules: [] as string[],
  exclude_modules: [] as string[],
  match_all_linear: false,
  dim: 8,
  alpha: 32,
  dropout: 0.0,
  dropout_position: 'post',
  lora_A_init: 'xavier',
  lora_dtype: null as string | null,
  use_triton: false,
};
export type PeftFields = typeof NEMO_PEFT_DEFAULTS;

export interface RecipeInput {
  cfg: TrainConfig;
  /** NeMo PeftConfig fields (defaults filled in); null = a full fine-tune. */
  peft: PeftFields | null;
  activationCheckpointing: boolean;
}

/** The training config and its NeMo-only fields, from TOML text and --set flags. */
export function loadRecipeInput(text: string, source: string, sets: readonly string[]): RecipeInput {
  const cfg = loadTrainConfig(text, source, sets);
  const p = cfg.peft;
  // lora_dtype unset here is written as NeMo's default, None.
  const peft = p ? { ...NEMO_PEFT_DEFAULTS, ...p, lora_dtype: p.lora_dtype ?? null } : null;
  return { cfg, peft, activationCheckpointing: cfg.distributed.activation_checkpointing };
}
