// LLaDA's parameter table: the exact Hugging Face tensor names and shapes for a config, in one
// stable order (embedding, blocks 0..L-1, final norm, output head), and a check of a checkpoint's
// tensors against it.
// Deliberately not here: initialisation values, dtypes, reading files.
// Names and shapes: modeling_llada.py (LLaDAModelLM.model = LLaDAModel; transformer.wte, blocks.i
// of LLaDALlamaBlock, ln_f, ff_out). Linear weights are PyTorch's [out_features, in_features].

import { UserError } from '../engine/errors.ts';
import { embeddingRows, headDim, kvHeads, mlpHidden, type ModelConfig } from './config.ts';

export type ParamRole =
  | 'wte'
  | 'attn_norm'
  | 'q_proj'
  | 'k_proj'
  | 'v_proj'
  | 'attn_out'
  | 'ff_norm'
  | 'ff_proj'
  | 'up_proj'
  | 'ff_out'
  | 'ln_f'
  | 'lm_head';

export interface ParamEntry {
  name: string;
  shape: number[];
  role: ParamRole;
  /** Block index for per-block tensors, null for the embedding, final norm and head. */
  layer: number | null;
}

export const PREFIX = 'model.transformer';

export function blockParamName(layer: number, role: ParamRole): string {
  return `${PREFIX}.blocks.${layer}.${role}.weight`;
}

export function parameterTable(cfg: ModelConfig): ParamEntry[] {
  const C = cfg.d_model;
  const F = mlpHidden(cfg);
  const KV = kvHeads(cfg) * headDim(cfg);
  const E = embeddingRows(cfg);
  const out: ParamEntry[] = [{ name: `${PREFIX}.wte.weight`, shape: [E, C], role: 'wte', layer: null }];
  const block: [ParamRole, number[]][] = [
    ['attn_norm', [C]],
    ['q_proj', [C, C]],
    ['k_proj', [KV, C]],
    ['v_proj', [KV, C]],
    ['attn_out', [C, C]],
    ['ff_norm', [C]],
    ['ff_proj', [F, C]],
    ['up_proj', [F, C]],
    ['ff_out', [C, F]],
  ];
  for (let i = 0; i < cfg.n_layers; i++) {
    for (const [role, shape] of block) out.push({ name: blockParamName(i, role), shape: [...shape], role, layer: i });
  }
  out.push({ name: `${PREFIX}.ln_f.weight`, shape: [C], role: 'ln_f', layer: null });
  if (!cfg.weight_tying) out.push({ name: `${PREFIX}.ff_out.weight`, shape: [E, C], role: 'lm_head', layer: null });
  return out;
}

/**
 * Check that a checkpoint holds exactly the tensors the config needs, with the right shapes.
 * `available` maps tensor name -> shape. Extra tensors are refused too: they usually mean the
 * config does not describe the checkpoint (e.g. biases, q/k norms, tied weights).
 */
export function checkWeightsMatch(
  cfg: ModelConfig,
  available: ReadonlyMap<string, readonly number[]>,
  source: string,
): void {
  // Counted before the table is built: a config.json with a million layers must not build one.
  const one = parameterTable({ ...cfg, n_layers: 1 }).length;
  const perLayer = parameterTable({ ...cfg, n_layers: 2 }).length - one;
  const count = one + (cfg.n_layers - 1) * perLayer;
  if (count > available.size) {
    throw new UserError(
      `${source}: weights do not match config.json: its n_layers ${cfg.n_layers} needs ${count} tensors, the ` +
        `weights hold ${available.size}`,
    );
  }
  const table = parameterTable(cfg);
  const problems: string[] = [];
  const expected = new Set<string>();
  for (const p of table) {
    expected.add(p.name);
    const got = available.get(p.name);
    if (!got) problems.push(`missing ${p.name} [${p.shape.join(', ')}]`);
    else if (got.length !== p.shape.length || got.some((d, i) => d !== p.shape[i])) {
      problems.push(`${p.name} has shape [${got.join(', ')}], the config needs [${p.shape.join(', ')}]`);
    }
  }
  for (const name of available.keys()) if (!expected.has(name)) problems.push(`unexpected tensor ${name}`);
  if (problems.length > 0) {
    const shown = problems.slice(0, 8).join('; ');
    const more = problems.length > 8 ? ` (and ${problems.length - 8} more)` : '';
    throw new UserError(`${source}: weights do not match config.json: ${shown}${more}`);
  }
}
