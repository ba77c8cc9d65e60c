// Reads a training config for `export-recipe`: the validated TrainConfig plus the two sections NeMo's
// LoRA recipe adds, [peft] (NeMo's PeftConfig, field for field) and [distributed]
// activation_checkpointing. When the training schema has no such section yet, they are taken from
// the raw TOML here (checked against NeMo's field names and types) and blanked out of the text the
// training loader sees, line for line, so its messages keep their file:line; when the schema has
// them, the loader checks them and this file only reads their values. A [peft] section (or a
// --set peft.key) is what makes a config a LoRA recipe. Deliberately no mapping to NeMo here
// (cli/export-recipe.ts) and no file writing.
import { parse } from 'smol-toml';
import { UserError } from '../engine/errors.ts';
import { schemaSections } from '../train/config-schema.ts';
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

type Raw = Record<string, unknown>;
const isTable = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);
const EXTRA_SECTIONS = ['peft', 'distributed'] as const;

function peftProblem(key: string, v: unknown): string | undefined {
  const strings = Array.isArray(v) && v.every((x) => typeof x === 'string');
  switch (key) {
    case 'target_modules':
    case 'exclude_modules':
      return strings ? undefined : 'expected an array of strings (module name patterns)';
    case 'match_all_linear':
    case 'use_triton':
      return typeof v === 'boolean' ? undefined : 'expected true or false';
    case 'dim':
      return Number.isInteger(v) && (v as number) >= 1 ? undefined : 'expected an integer >= 1 (the LoRA rank)';
    case 'alpha':
      return typeof v === 'number' && v > 0 ? undefined : 'expected a number > 0';
    case 'dropout':
      return typeof v === 'number' && v >= 0 && v < 1 ? undefined : 'expected a number in [0, 1)';
    case 'dropout_position':
      return v === 'pre' || v === 'post' ? undefined : 'expected "pre" or "post"';
    case 'lora_A_init':
      return v === 'xavier' || v === 'uniform' ? undefined : 'expected "xavier" or "uniform"';
    case 'lora_dtype':
      return typeof v === 'string' ? undefined : 'expected a dtype name such as "float32" or "bfloat16"';
  }
  const known = Object.keys(NEMO_PEFT_DEFAULTS).join(', ');
  return `unknown key: NeMo's PeftConfig has ${known}`;
}

/** Blank the lines of `[section]` and its subtables, keeping the line count (for file:line messages). */
function blankSection(text: string, section: string): string {
  let inside = false;
  return text
    .split('\n')
    .map((line) => {
      const header = /^\s*\[\s*([A-Za-z0-9_.\- ]+?)\s*\]/.exec(line.replace(/#.*$/, ''));
      if (header) inside = header[1].replace(/\s+/g, '').split('.')[0] === section;
      return inside ? '' : line;
    })
    .join('\n');
}

function setValue(text: string): unknown {
  try {
    return parse(`v = ${text}`)['v'];
  } catch {
    return text; // not a TOML value: a bare string
  }
}

/** The training config and its NeMo-only sections, from TOML text and --set flags. */
export function loadRecipeInput(text: string, source: string, sets: readonly string[]): RecipeInput {
  let raw: Raw = {};
  try {
    raw = parse(text);
  } catch {
    loadTrainConfig(text, source); // reports the syntax error with file:line:column
  }
  const known = new Set(schemaSections().map(([s]) => s));
  const extra: Record<string, Raw | undefined> = {};
  let loaderText = text;
  const loaderSets: string[] = [];
  for (const s of EXTRA_SECTIONS) {
    const v = raw[s];
    if (v !== undefined && !isTable(v)) throw new UserError(`${source}: ${s} is a section: write [${s}] and its keys`);
    extra[s] = v === undefined ? undefined : { ...v };
    if (!known.has(s) && v !== undefined) {
      loaderText = blankSection(loaderText, s);
      if (isTable(parse(loaderText)[s])) {
        throw new UserError(`${source}: write [${s}] as a table of its own (dotted or inline ${s} keys are not read)`);
      }
    }
  }
  for (const flag of sets) {
    const eq = flag.indexOf('=');
    const path = eq > 0 ? flag.slice(0, eq).trim().split('.') : [];
    const s = EXTRA_SECTIONS.find((x) => x === path[0]);
    if (s && path.length === 2) (extra[s] ??= {})[path[1]] = setValue(flag.slice(eq + 1).trim());
    if (!s || known.has(s)) loaderSets.push(flag);
  }
  const cfg = loadTrainConfig(loaderText, source, loaderSets);

  const where = (s: string, k: string) =>
    sets.some((f) => f.startsWith(`${s}.${k}=`)) ? `--set ${s}.${k}` : `${source}: ${s}.${k}`;
  let peft: PeftFields | null = null;
  if (extra.peft) {
    if (!known.has('peft')) {
      const problems = Object.entries(extra.peft).flatMap(([k, v]) => {
        const p = peftProblem(k, v);
        return p ? [`${where('peft', k)}: ${p}, got ${JSON.stringify(v)}`] : [];
      });
      if (problems.length === 1) throw new UserError(problems[0]);
      if (problems.length > 1)
        throw new UserError(`[peft] has ${problems.length} problems:\n  ${problems.join('\n  ')}`);
    }
    peft = { ...NEMO_PEFT_DEFAULTS, ...extra.peft };
  }
  const dist = extra.distributed ?? {};
  if (!known.has('distributed')) {
    for (const [k, v] of Object.entries(dist)) {
      if (k !== 'activation_checkpointing') {
        throw new UserError(`${where('distributed', k)}: unknown key (dllm-wgpu reads activation_checkpointing only)`);
      }
      if (typeof v !== 'boolean') throw new UserError(`${where('distributed', k)}: expected true or false`);
    }
  }
  return { cfg, peft, activationCheckpointing: dist.activation_checkpointing === true };
}
