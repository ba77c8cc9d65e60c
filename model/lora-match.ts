// Which of LLaDA's linears a LoRA adapter covers, by the two rule sets users bring:
// - NeMo AutoModel's (nemo_automodel/components/_peft/module_matcher.py): a pattern matches a
//   module's full path when equal to it, or as a regular expression in which a `*` not preceded by
//   `.` stands for `.*`, anchored at both ends ("*.q_proj", "*.blocks.0.*.v_proj", "*_proj");
// - Hugging Face PEFT's, for adapters written elsewhere (peft/tuners/tuners_utils.py,
//   check_target_module_exists): a string target_modules is a regex that must match the whole
//   path; a list matches a path equal to an entry or ending in "." + entry. rank_pattern and
//   alpha_pattern keys match a path that is the key or ends in "." + key (as a regex).
// Only the block linears are candidates: the embedding (model.transformer.wte) and the LM head
// (model.transformer.ff_out, which "*.ff_out" also matches) are never adapted.
import { UserError } from '../engine/errors.ts';
import type { ModelConfig } from './config.ts';
import { PREFIX, parameterTable } from './names.ts';

export const LORA_MODULES = ['q_proj', 'k_proj', 'v_proj', 'attn_out', 'ff_proj', 'up_proj', 'ff_out'] as const;
export type LoraModuleName = (typeof LORA_MODULES)[number];
/** LLaDA's fused-attention layout names a module att_proj; NeMo's llada_lora.yaml lists it for that layout. */
const OTHER_LAYOUT = new Set(['att_proj']);
const NEVER = [`${PREFIX}.wte`, `${PREFIX}.ff_out`];

export interface LoraModule {
  /** Full module path, e.g. model.transformer.blocks.0.q_proj. */
  path: string;
  layer: number;
  name: LoraModuleName;
  /** The base weight's [out, in]. */
  outF: number;
  inF: number;
}

/** Every block linear of a model, in parameter-table order. */
export function blockLinears(cfg: ModelConfig): LoraModule[] {
  const out: LoraModule[] = [];
  for (const p of parameterTable(cfg)) {
    if (p.layer === null || !(LORA_MODULES as readonly string[]).includes(p.role)) continue;
    const path = p.name.replace(/\.weight$/, '');
    out.push({ path, layer: p.layer, name: p.role as LoraModuleName, outF: p.shape[0], inF: p.shape[1] });
  }
  return out;
}

/** NeMo's wildcard_match: `*` not after `.` becomes `.*`; the rest is a regex over the whole path. */
export function nemoWildcardMatch(pattern: string, path: string): boolean {
  let re: RegExp;
  try {
    re = new RegExp('^' + pattern.replace(/(?<!\.)\*/g, '.*') + '$');
  } catch {
    return false;
  }
  return pattern === path || re.test(path);
}

function unknownPattern(key: string, pattern: string): UserError {
  const bare = (LORA_MODULES as readonly string[]).includes(pattern) ? ` (did you mean "*.${pattern}"?)` : '';
  return new UserError(
    `${key}: "${pattern}" matches no module of this model${bare}; patterns match full paths such as ` +
      `${PREFIX}.blocks.0.q_proj, and the adaptable modules are ${LORA_MODULES.join(', ')} ` +
      '(never the embedding wte nor the LM head)',
  );
}

/** Each pattern must name something: a block linear, or a module of LLaDA's other layout. */
function matchPatterns(key: string, patterns: readonly string[], all: LoraModule[]): Set<string> {
  const hit = new Set<string>();
  for (const pat of patterns) {
    const found = all.filter((m) => nemoWildcardMatch(pat, m.path));
    found.forEach((m) => hit.add(m.path));
    if (found.length > 0) continue;
    const last = pat.split('.').at(-1) ?? pat;
    if (OTHER_LAYOUT.has(last)) continue; // a no-op here, as in NeMo
    if (NEVER.some((p) => nemoWildcardMatch(pat, p))) {
      throw new UserError(`${key}: "${pat}" names the embedding or the LM head, which LoRA never adapts here`);
    }
    throw unknownPattern(key, pat);
  }
  return hit;
}

/** The modules a [peft] section adapts (NeMo's rules); errors name the valid modules. */
export function selectNemoTargets(
  cfg: ModelConfig,
  p: { target_modules: readonly string[]; exclude_modules: readonly string[]; match_all_linear: boolean },
): LoraModule[] {
  const all = blockLinears(cfg);
  let chosen: LoraModule[];
  if (p.match_all_linear) chosen = all;
  else if (p.exclude_modules.length > 0) {
    const out = matchPatterns('peft.exclude_modules', p.exclude_modules, all);
    chosen = all.filter((m) => !out.has(m.path));
  } else {
    const targets = p.target_modules.length > 0 ? p.target_modules : ['*_proj']; // NeMo's default
    const hit = matchPatterns('peft.target_modules', targets, all);
    chosen = all.filter((m) => hit.has(m.path));
  }
  if (chosen.length === 0) throw new UserError('[peft] selects no module to adapt');
  return chosen;
}

/** PEFT's target_modules rule (a regex string, or a list of names / path suffixes). */
export function peftTargets(target: string | readonly string[] | null | undefined, path: string): boolean {
  if (target === null || target === undefined) return false;
  if (typeof target === 'string') {
    try {
      return new RegExp(`^(?:${target})$`).test(path);
    } catch {
      throw new UserError(`adapter_config.json: target_modules ${JSON.stringify(target)} is not a valid regex`);
    }
  }
  return target.some((t) => path === t || path.endsWith(`.${t}`));
}

/** PEFT's rank_pattern / alpha_pattern lookup: the first key the path ends with, as a regex. */
export function patternValue(pattern: Record<string, number> | null | undefined, path: string): number | undefined {
  for (const [key, v] of Object.entries(pattern ?? {})) {
    let re: RegExp;
    try {
      re = new RegExp(`(^|.*\\.)(?:${key})$`);
    } catch {
      throw new UserError(`adapter_config.json: pattern key ${JSON.stringify(key)} is not a valid regex`);
    }
    if (re.test(path)) return v;
  }
  return undefined;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A regex (PEFT's string target_modules, matched against whole paths) that matches exactly the
 * given modules among the model's: per module name, the layers that have it.
 */
export function targetRegex(modules: readonly LoraModule[]): string {
  const byName = new Map<string, number[]>();
  for (const m of modules) byName.set(m.name, [...(byName.get(m.name) ?? []), m.layer]);
  const groups = new Map<string, string[]>(); // layer set -> names
  for (const [name, layers] of byName) {
    const k = layers.join('|');
    groups.set(k, [...(groups.get(k) ?? []), name]);
  }
  const parts = [...groups].map(([layers, names]) => {
    const n = names.length === 1 ? names[0] : `(?:${names.join('|')})`;
    const l = layers.includes('|') ? `(?:${layers})` : layers;
    return `${esc(PREFIX)}\\.blocks\\.${l}\\.${n}`;
  });
  return parts.length === 1 ? parts[0] : `(?:${parts.join('|')})`;
}
