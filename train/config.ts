// Loads, validates and prints the training config (schema: train/config-schema.ts). TOML parsed by
// smol-toml; `--set section.key=value` overrides parse their value as a TOML value, falling back to
// a string. Every problem is a UserError that says where (file:line[:column] or the --set flag),
// what (key path, expected type, given value) and, for an unknown key, the nearest known one
// (Levenshtein distance, Wagner & Fischer 1974). All problems are reported at once.
// Relative data and model paths resolve against the config file's folder (--set ones against the
// working directory); the resolved config stores them absolute, so a copy saved beside a checkpoint
// means the same thing anywhere. Deliberately no file reading here: callers pass the text.
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { UserError } from '../engine/errors.ts';
import {
  OPTIONAL_SECTIONS,
  defaultTrainConfig,
  schemaSections,
  sectionDefaults,
  type FieldSpec,
  type TrainConfig,
} from './config-schema.ts';
import { checkTrainConfig } from './config-check.ts';

export { DEFAULT_CONFIG_TOML } from './config-default.ts';
export type { TrainConfig } from './config-schema.ts';

type Raw = Record<string, unknown>;
/** Where a key's value came from: a file (line found by scanning) or a --set flag. */
type Origin = { kind: 'file' } | { kind: 'set'; flag: string };

export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = levenshtein(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** 1-based line of `[section]` or of `key = ` inside it, by a line scan (good enough for messages). */
export function locateKey(toml: string, section: string, key?: string): number | undefined {
  let table = '';
  const lines = toml.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/#.*$/, '').trim();
    const header = /^\[\s*([A-Za-z0-9_.\- ]+?)\s*\]$/.exec(line);
    if (header) {
      table = header[1].replace(/\s+/g, '');
      if (key === undefined && table === section) return i + 1;
      continue;
    }
    const kv = /^([A-Za-z0-9_.\- ]+?)\s*=/.exec(line);
    if (!kv || key === undefined) continue;
    const full = [table, kv[1].replace(/\s+/g, '')].filter(Boolean).join('.');
    if (full === [section, key].filter(Boolean).join('.')) return i + 1;
  }
  return undefined;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return `array ${JSON.stringify(v)}`;
  if (v !== null && typeof v === 'object') return 'a table';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function expected(f: FieldSpec<unknown>): string {
  switch (f.kind) {
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'bool':
      return 'true or false';
    case 'string':
      return 'a string';
    case 'enum':
      return `one of ${f.values!.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'numbers':
      return `an array of ${f.length ?? 'some'} numbers`;
    case 'strings':
      return 'an array of strings';
    case 'resume':
      return '"auto", false or a checkpoint path';
  }
}

function rangeProblem(f: FieldSpec<unknown>, x: number): string | undefined {
  if (!Number.isFinite(x)) return 'must be finite';
  const below = f.exclusiveMin ? x <= f.min! : x < f.min!;
  if (f.min !== undefined && below) return `must be ${f.exclusiveMin ? '>' : '>='} ${f.min}`;
  if (f.max !== undefined && x > f.max) return `must be <= ${f.max}`;
  return undefined;
}

/** The value if it fits the field, or a message naming the expected type and what was given. */
function checkValue(f: FieldSpec<unknown>, v: unknown): string | undefined {
  const bad = `expected ${expected(f)}, got ${describe(v)}`;
  switch (f.kind) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) return bad;
      return rangeProblem(f, v);
    case 'number':
      if (typeof v !== 'number') return bad;
      return rangeProblem(f, v);
    case 'bool':
      return typeof v === 'boolean' ? undefined : bad;
    case 'string':
      return typeof v === 'string' ? undefined : bad;
    case 'enum':
      return typeof v === 'string' && f.values!.includes(v) ? undefined : bad;
    case 'numbers':
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'number') || (f.length && v.length !== f.length)) return bad;
      for (const x of v as number[]) {
        const p = rangeProblem(f, x);
        if (p) return `each element ${p}, got ${JSON.stringify(v)}`;
      }
      return undefined;
    case 'strings':
      return Array.isArray(v) && v.every((x) => typeof x === 'string') ? undefined : bad;
    case 'resume':
      if (v === false || (typeof v === 'string' && v !== '')) return undefined;
      return v === true ? 'resume = true is ambiguous: use "auto" or a checkpoint path' : bad;
  }
}

function parseOverride(flag: string): { path: string[]; value: unknown } {
  const eq = flag.indexOf('=');
  if (eq <= 0) throw new UserError(`--set ${flag}: expected key=value, e.g. --set optimizer.lr=1e-3`);
  const path = flag.slice(0, eq).trim().split('.');
  const text = flag.slice(eq + 1).trim();
  let value: unknown = text;
  try {
    value = parse(`v = ${text}`)['v'];
  } catch {
    // not a TOML value: take it as a bare string (paths, names)
  }
  return { path, value };
}

function tomlSyntaxError(e: TomlError, sourcePath: string): UserError {
  const reason = e.message.split('\n')[0].replace(/^Invalid TOML document:\s*/, '');
  return new UserError(
    `${sourcePath}:${e.line}:${e.column}: TOML syntax error: ${reason}\n${e.codeblock ?? ''}`.trimEnd(),
  );
}

const FILE_PATH_KEYS = new Set(['model.path', 'dataset.path', 'validation_dataset.path', 'resume']);
const SECTIONS = new Map(schemaSections());
const joinKey = (section: string, key?: string): string => [section, key].filter(Boolean).join('.');
const isTable = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Writes each --set value into the parsed TOML tree and remembers which keys it set. */
function applyOverrides(
  raw: Raw,
  overrides: readonly string[],
  origins: Map<string, Origin>,
  problems: string[],
): void {
  for (const flag of overrides) {
    const { path, value } = parseOverride(flag);
    if (path.length > 2 || path.some((p) => p === '')) {
      problems.push(`--set ${flag}: key paths are "key" or "section.key"`);
      continue;
    }
    const [section, key] = path.length === 2 ? [path[0], path[1]] : ['', path[0]];
    const target = section ? (raw[section] ??= {}) : raw;
    if (!isTable(target)) {
      problems.push(`--set ${flag}: ${section} is not a section`);
      continue;
    }
    target[key] = value;
    origins.set(joinKey(section, key), { kind: 'set', flag });
  }
}

function unknownKeyMessage(section: string, key: string, value: unknown): string {
  if (!section && isTable(value)) {
    const near = nearest(key, [...SECTIONS.keys()].filter(Boolean));
    return `unknown section [${key}]${near ? ` (did you mean [${near}]?)` : ''}`;
  }
  const near = nearest(key, Object.keys(SECTIONS.get(section)!));
  // the right key in the wrong section: "lr_warmup_steps" at the top means lr_scheduler.lr_warmup_steps
  const elsewhere = [...SECTIONS].find(([, fields]) => key in fields)?.[0];
  const hint =
    near !== undefined ? joinKey(section, near) : elsewhere !== undefined ? joinKey(elsewhere, key) : undefined;
  return `unknown key ${joinKey(section, key)}${hint ? ` (did you mean ${hint}?)` : ''}`;
}

/** Parses TOML text plus --set overrides into a validated, resolved TrainConfig. */
export function loadTrainConfig(tomlText: string, sourcePath: string, overrides: readonly string[] = []): TrainConfig {
  let raw: Raw;
  try {
    raw = parse(tomlText);
  } catch (e) {
    if (e instanceof TomlError) throw tomlSyntaxError(e, sourcePath);
    throw e;
  }
  const origins = new Map<string, Origin>();
  const problems: string[] = [];
  const where = (section: string, key?: string): string => {
    const o = origins.get(joinKey(section, key));
    if (o?.kind === 'set') return `--set ${o.flag}`;
    const line = locateKey(tomlText, section, key);
    return line ? `${sourcePath}:${line}` : sourcePath;
  };
  applyOverrides(raw, overrides, origins, problems);

  const cfg = defaultTrainConfig() as unknown as Raw;
  const explicit = new Set<string>();
  const take = (section: string, key: string, value: unknown): void => {
    const full = joinKey(section, key);
    const spec = SECTIONS.get(section)![key];
    if (!spec) {
      const loc = !section && isTable(value) ? where(key) : where(section, key); // [section] header line
      problems.push(`${loc}: ${unknownKeyMessage(section, key, value)}`);
      return;
    }
    const problem = checkValue(spec, value);
    if (problem) {
      problems.push(`${where(section, key)}: ${full}: ${problem}`);
      return;
    }
    let v = value;
    if (typeof v === 'string' && FILE_PATH_KEYS.has(full) && !(full === 'resume' && v === 'auto') && !isAbsolute(v)) {
      const fromShell = origins.get(full)?.kind === 'set' || sourcePath.startsWith('<');
      v = resolve(fromShell ? process.cwd() : dirname(resolve(sourcePath)), v);
    }
    if (section && cfg[section] === undefined) cfg[section] = sectionDefaults(SECTIONS.get(section)!);
    const target = section ? (cfg[section] as Raw) : cfg;
    target[key] = Array.isArray(v) ? [...(v as unknown[])] : v;
    explicit.add(full);
  };
  for (const [key, value] of Object.entries(raw)) {
    if (key === '' || !SECTIONS.has(key)) {
      take('', key, value);
    } else if (!isTable(value)) {
      problems.push(
        `${where('', key)}: ${key} is a section: write [${key}] and its keys below, got ${describe(value)}`,
      );
    } else {
      // An optional section written empty ([peft] alone) is on, at its defaults.
      if (OPTIONAL_SECTIONS.has(key) && cfg[key] === undefined) cfg[key] = sectionDefaults(SECTIONS.get(key)!);
      for (const [k, v] of Object.entries(value)) take(key, k, v);
    }
  }
  if (problems.length === 0) problems.push(...checkTrainConfig(cfg as unknown as TrainConfig, explicit, where));
  if (problems.length === 1) throw new UserError(problems[0]);
  if (problems.length > 1) throw new UserError(`config has ${problems.length} problems:\n  ${problems.join('\n  ')}`);
  const out = cfg as unknown as TrainConfig;
  if (out.out === '') out.out = `runs/${out.name}`;
  if (out.model.tokenizer === 'auto') out.model.tokenizer = out.model.path ? 'checkpoint' : 'char';
  return out;
}

function tomlValue(f: FieldSpec<unknown>, v: unknown): string {
  if (typeof v === 'number') return f.kind === 'number' && Number.isInteger(v) ? v.toFixed(1) : String(v);
  if (Array.isArray(v) && f.kind === 'strings') return `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
  if (Array.isArray(v)) return `[${v.map((x) => tomlValue({ ...f, kind: 'number' }, x)).join(', ')}]`;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** The resolved config as commented TOML: for --print-config and beside each checkpoint. */
export function resolvedConfigToToml(cfg: TrainConfig): string {
  const lines = ['# dllm-wgpu training config (resolved: every field, defaults included)'];
  const c = cfg as unknown as Record<string, unknown>;
  for (const [section, fields] of schemaSections()) {
    const values = (section ? c[section] : c) as Raw | undefined;
    lines.push('');
    if (!values) {
      lines.push(`# [${section}] absent (add the section to enable it)`);
      continue;
    }
    if (section) lines.push(`[${section}]`);
    for (const [key, f] of Object.entries(fields)) {
      if (section === 'model' && f.arch && cfg.model.path !== undefined) continue; // from the checkpoint
      lines.push(`# ${f.doc}`);
      const v = values[key];
      lines.push(v === undefined ? `# ${key} = (unset)` : `${key} = ${tomlValue(f, v)}`);
    }
  }
  return lines.join('\n') + '\n';
}
