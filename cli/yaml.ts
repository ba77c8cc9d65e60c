// A small YAML writer for `export-recipe`: ordered maps, scalars, lists and comments, nothing else
// (no anchors, no multi-line strings). Output is read by PyYAML (YAML 1.1) in NeMo AutoModel, so
// floats always carry a '.' and a signed exponent ("1.0e-8": PyYAML reads "1e-8" as a string),
// and strings that YAML 1.1 would read as something else ("no", "null", "1.5", "*.q_proj") are
// double-quoted (a JSON string is a valid YAML double-quoted scalar). Deliberately no reader.

/** A float that must stay a float in YAML (1 is written 1.0). */
export interface YamlFloat {
  float: number;
}
export type YamlScalar = null | boolean | number | string | YamlFloat;
export type YamlValue = YamlScalar | readonly YamlScalar[] | YamlMap;

export interface YamlEntry {
  key: string;
  value: YamlValue;
  /** Comment at the end of the line (after `key:` for a map). */
  comment?: string;
  /** Comment lines above the entry. */
  note?: string[];
}

export interface YamlMap {
  entries: YamlEntry[];
}

export const float = (x: number): YamlFloat => ({ float: x });
export const map = (entries: YamlEntry[]): YamlMap => ({ entries });

const isMap = (v: YamlValue): v is YamlMap =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && 'entries' in v;
const isFloat = (v: YamlValue): v is YamlFloat => v !== null && typeof v === 'object' && 'float' in v;

// YAML 1.1 plain scalars that are not strings: booleans, null, and anything number-like.
const RESERVED = /^(y|n|yes|no|true|false|on|off|null|~|\.inf|\.nan)$/i;
const PLAIN = /^[A-Za-z_/][A-Za-z0-9_./-]*$/; // absolute paths too; a leading '.' could read as a float

function floatText(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`YAML float must be finite, got ${x}`);
  if (Number.isInteger(x) && Math.abs(x) < 1e21) return x.toFixed(1);
  const s = Math.abs(x) < 1e-3 ? x.toExponential() : String(x); // 2e-5 as NeMo writes it, not 0.00002
  const [mant, exp] = s.split('e');
  if (exp === undefined) return s;
  return `${mant.includes('.') ? mant : `${mant}.0`}e${exp}`;
}

function scalar(v: YamlScalar): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : floatText(v);
  if (typeof v === 'string') return PLAIN.test(v) && !RESERVED.test(v) ? v : JSON.stringify(v);
  return floatText(v.float);
}

function emitEntries(entries: readonly YamlEntry[], indent: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  for (const e of entries) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.key)) throw new Error(`YAML key ${JSON.stringify(e.key)} is not plain`);
    for (const line of e.note ?? []) out.push(`${pad}# ${line}`.trimEnd());
    const tail = e.comment ? `  # ${e.comment}` : '';
    const v = e.value;
    if (isMap(v)) {
      out.push(`${pad}${e.key}:${tail}`);
      emitEntries(v.entries, indent + 2, out);
    } else if (Array.isArray(v)) {
      const items = v as readonly YamlScalar[];
      // strings one per line (as NeMo writes target_modules), numbers inline (as NeMo writes betas)
      if (items.length > 0 && items.some((x) => typeof x === 'string')) {
        out.push(`${pad}${e.key}:${tail}`);
        for (const x of items) out.push(`${pad}  - ${scalar(x)}`);
      } else out.push(`${pad}${e.key}: [${items.map(scalar).join(', ')}]${tail}`);
    } else if (isFloat(v) || v === null || typeof v !== 'object') {
      out.push(`${pad}${e.key}: ${scalar(v)}${tail}`);
    }
  }
}

/** The document: header comment lines, then top-level entries, a blank line before each map. */
export function toYaml(header: readonly string[], entries: readonly YamlEntry[]): string {
  const out = header.map((l) => `# ${l}`.trimEnd());
  for (const e of entries) {
    if (isMap(e.value) || e.note) out.push('');
    emitEntries([e], 0, out);
  }
  return out.join('\n') + '\n';
}
