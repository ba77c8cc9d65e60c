// The [peft] section: LoRA fine-tuning on a frozen base, field for field NVIDIA NeMo AutoModel's
// PeftConfig (nemo_automodel/components/_peft/lora.py, as examples/dllm_sft/llada_lora.yaml uses it)
// with NeMo's defaults. The section's presence turns LoRA on; absent, training is full fine-tuning.
// Kept apart from config-schema.ts so the LoRA keys travel as one piece. No parsing here (config.ts)
// and no module matching (model/lora-match.ts).
import type { FieldSpec } from './config-schema.ts';

const strings = (doc: string): FieldSpec<string[]> => ({ kind: 'strings', default: [], doc });

export const PEFT_SCHEMA = {
  target_modules: strings(
    'modules to adapt: NeMo wildcards over module paths (`*.q_proj`, `*.blocks.0.*.v_proj`; `*` = any ' +
      'characters); empty with exclude_modules empty and match_all_linear false = "*_proj", as NeMo',
  ),
  exclude_modules: strings('adapt every block linear except these (wildcards as target_modules; not with it)'),
  match_all_linear: bool(false, 'adapt every block linear (never the embedding nor the LM head)'),
  dim: { kind: 'int', default: 8, min: 1, doc: 'LoRA rank r: A is [dim, in], B is [out, dim]' } as FieldSpec<number>,
  alpha: {
    kind: 'number',
    default: 32,
    min: 0,
    exclusiveMin: true,
    doc: 'LoRA alpha: the update is scaled by alpha / dim',
  } as FieldSpec<number>,
  dropout: {
    kind: 'number',
    default: 0,
    min: 0,
    max: 0.99,
    doc: 'dropout probability on the LoRA path (training only; Philox masks keyed by seed, step, layer, module)',
  } as FieldSpec<number>,
  dropout_position: {
    kind: 'enum',
    values: ['pre', 'post'],
    default: 'post',
    doc: 'pre = dropout on the LoRA input x; post = on the scaled LoRA output',
  } as FieldSpec<'pre' | 'post'>,
  lora_A_init: {
    kind: 'enum',
    values: ['xavier', 'uniform'],
    default: 'xavier',
    doc: "A's initialisation: xavier = Glorot uniform over (in, dim); uniform = PyTorch Linear's U(+-1/sqrt(in)); B starts at 0",
  } as FieldSpec<'xavier' | 'uniform'>,
  lora_dtype: {
    kind: 'enum',
    values: ['float32'],
    default: undefined,
    optional: true,
    doc: 'adapter dtype: adapters and their AdamW moments are always float32 here (unset = float32)',
  } as FieldSpec<'float32' | undefined>,
  use_triton: bool(false, "accepted for NeMo compatibility; no effect here (NeMo's Triton LoRA kernels)"),
};

function bool(d: boolean, doc: string): FieldSpec<boolean> {
  return { kind: 'bool', default: d, doc };
}

type Spec<S> = { -readonly [K in keyof S]: S[K] extends FieldSpec<infer T> ? T : never };
export type PeftConfig = Spec<typeof PEFT_SCHEMA>;

export function defaultPeftConfig(): PeftConfig {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(PEFT_SCHEMA) as [string, FieldSpec<unknown>][]) {
    out[k] = Array.isArray(f.default) ? [...(f.default as unknown[])] : f.default;
  }
  return out as PeftConfig;
}

/** The [peft] keys with their defaults, for `train --help`. */
export function peftHelp(): string {
  const lines = ['[peft] (LoRA on a frozen base; NeMo PeftConfig keys, NeMo defaults; absent = full fine-tuning):'];
  for (const [k, f] of Object.entries(PEFT_SCHEMA) as [string, FieldSpec<unknown>][]) {
    const d = f.default === undefined ? '(unset)' : JSON.stringify(f.default);
    lines.push(`  ${k} = ${d}`.padEnd(34) + ` ${f.doc}`);
  }
  return lines.join('\n');
}
