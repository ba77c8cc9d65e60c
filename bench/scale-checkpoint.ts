// The random-weight checkpoint `dllm-wgpu bench scale` loads: a preset's config.json, LLaDA's tensor
// names and shapes (model/names.ts), every tensor BF16, in the 6-shard layout LLaDA-8B-Base ships
// (model-0000N-of-00006.safetensors + model.safetensors.index.json). Values follow the config's init
// scheme (model/init.ts's stds, truncated normal; norm weights 1).
// Written once and reused: tensors are generated and written streamed through a 2 MiB buffer, each
// shard through a temporary file renamed into place, and a COMPLETE marker (preset, layers, seed,
// files and sizes) written last; a folder without a matching marker is rewritten, never reused.
// Free space is checked before anything is written.
// Deliberately not here: loading and measuring (scale.ts).
// Shards: transformers' greedy split (a new shard when the next tensor would pass max_shard_size)
// with the smallest max_shard_size that gives at most the wanted count, contiguous and balanced by
// bytes; shallow models (--layers) then get their heaviest shards halved until the count is reached.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statfsSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../engine/errors.ts';
import { parseConfig } from '../model/config.ts';
import { parameterTable, type ParamEntry } from '../model/names.ts';
import { initStd } from '../model/init.ts';
import { writeFileAtomic, writeFileAtomicStreaming } from '../model/atomic-file.ts';
import { encodeSafetensorsHeader } from '../model/safetensors-write.ts';
import { INDEX_FILE, SINGLE_FILE, shardFileName } from '../model/weights-dir.ts';
import { bf16NormalTable, fillFromTable, Sfc32 } from './scale-random.ts';
import type { ScalePreset } from './scale-presets.ts';

export const SCALE_SHARDS = 6;
const MARKER = 'COMPLETE';
const FORMAT = 1; // bump when the written values or layout change, so old folders are redone
const CHUNK = 1 << 20; // elements per generated chunk: 2 MiB of bf16
const OURS = /^(config\.json|COMPLETE|model\.safetensors(\.index\.json)?|model-\d{5}-of-\d{5}\.safetensors)$/;
const OURS_TMP = /^\.(config\.json|COMPLETE|model[-.].*)\.tmp-/;

const numel = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);
export const fmtBytes = (b: number) => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : `${(b / 1e6).toFixed(1)} MB`);
export const fmtCount = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : `${(n / 1e6).toFixed(2)}M`);

/** `$XDG_CACHE_HOME/dllm-wgpu/scale-<preset>-L<layers>` (else ~/.cache/..., else the temp folder). */
export function defaultScaleDir(preset: string, layers: number): string {
  const base = process.env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : tmpdir());
  return join(base, 'dllm-wgpu', `scale-${preset}-L${layers}`);
}

/** Split sizes (in order) into `n` contiguous groups (fewer only with fewer sizes), balanced by bytes. */
export function planShards(sizes: readonly number[], n: number): number[][] {
  const greedy = (cap: number): number[][] => {
    const out: number[][] = [[]];
    let used = 0;
    sizes.forEach((s, i) => {
      if (out.at(-1)!.length > 0 && used + s > cap) {
        out.push([]);
        used = 0;
      }
      out.at(-1)!.push(i);
      used += s;
    });
    return out;
  };
  let lo = Math.max(0, ...sizes),
    hi = sizes.reduce((a, s) => a + s, 0);
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (greedy(mid).length <= n) hi = mid;
    else lo = mid + 1;
  }
  const groups = greedy(lo);
  // A shallow model's embedding and head can outweigh everything else: split the heaviest
  // divisible shard at its most even point until there are n (when there are n tensors).
  const bytes = (g: number[]) => g.reduce((a, i) => a + sizes[i], 0);
  while (groups.length < n) {
    let k = -1;
    groups.forEach((g, j) => {
      if (g.length > 1 && (k < 0 || bytes(g) > bytes(groups[k]))) k = j;
    });
    if (k < 0) break;
    const g = groups[k];
    let best = 1,
      bestMax = Infinity;
    for (let cut = 1; cut < g.length; cut++) {
      const m = Math.max(bytes(g.slice(0, cut)), bytes(g.slice(cut)));
      if (m < bestMax) [best, bestMax] = [cut, m];
    }
    groups.splice(k, 1, g.slice(0, best), g.slice(best));
  }
  return groups;
}

export interface ScaleCheckpoint {
  dir: string;
  reused: boolean;
  /** Bytes of the shard files (headers and data). */
  bytes: number;
  /** Seconds spent writing (0 when reused). */
  seconds: number;
  params: number;
}

interface Marker {
  format: number;
  preset: string;
  n_layers: number;
  seed: number;
  files: Record<string, number>;
}

function readMarker(dir: string): Marker | null {
  try {
    return JSON.parse(readFileSync(join(dir, MARKER), 'utf8')) as Marker;
  } catch {
    return null;
  }
}

function reusable(dir: string, want: Omit<Marker, 'files'>): Marker | null {
  const m = readMarker(dir);
  if (!m || m.format !== want.format || m.preset !== want.preset || m.n_layers !== want.n_layers) return null;
  if (m.seed !== want.seed || typeof m.files !== 'object' || m.files === null) return null;
  for (const [f, size] of Object.entries(m.files)) {
    const p = join(dir, f);
    if (!existsSync(p) || statSync(p).size !== size) return null;
  }
  return m;
}

/**
 * Bytes of what an earlier, unfinished or different write left in `dir` (to be replaced); refuses a
 * folder holding anything else.
 */
function ourFiles(dir: string): { names: string[]; bytes: number } {
  const names = readdirSync(dir);
  const foreign = names.filter((f) => !OURS.test(f) && !OURS_TMP.test(f));
  if (foreign.length > 0) {
    throw new UserError(
      `${dir} holds files bench scale did not write (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}); pass --out with an empty or new folder`,
    );
  }
  return { names, bytes: names.reduce((a, f) => a + statSync(join(dir, f)).size, 0) };
}

function progress(log: (s: string) => void, dir: string, total: number) {
  const t0 = performance.now();
  let last = t0;
  return (done: number, force = false) => {
    const now = performance.now();
    if (!force && now - last < 2000) return;
    last = now;
    const s = (now - t0) / 1000;
    const rate = done / Math.max(s, 1e-9);
    const eta = rate > 0 ? (total - done) / rate : 0;
    log(
      `writing ${dir}: ${fmtBytes(done)} / ${fmtBytes(total)} (${((done / total) * 100).toFixed(0)}%), ${(rate / 1e6).toFixed(rate < 1e7 ? 1 : 0)} MB/s, ETA ${eta.toFixed(0)} s`,
    );
  };
}

export interface EnsureOptions {
  preset: ScalePreset;
  layers: number;
  dir: string;
  seed?: number;
  log: (s: string) => void;
  /** Free bytes where `dir` lives (default: statfs); tests stand in a full disk. */
  freeBytes?: (dir: string) => number;
}

function statfsFree(dir: string): number {
  const fs = statfsSync(dir);
  return fs.bavail * fs.bsize;
}

/** The preset's random checkpoint in `dir`: reused when complete and matching, written otherwise. */
export async function ensureScaleCheckpoint(o: EnsureOptions): Promise<ScaleCheckpoint> {
  const seed = o.seed ?? 0;
  const configJson = { ...o.preset.config, n_layers: o.layers };
  const cfg = parseConfig(configJson, `preset ${o.preset.name}`);
  const table = parameterTable(cfg);
  const params = table.reduce((a, p) => a + numel(p.shape), 0);
  const want = { format: FORMAT, preset: o.preset.name, n_layers: o.layers, seed };
  const groups = planShards(
    table.map((p) => numel(p.shape) * 2),
    SCALE_SHARDS,
  );
  const names = groups.map((_, i) => (groups.length === 1 ? SINGLE_FILE : shardFileName(i, groups.length)));
  const headers = groups.map((g) =>
    encodeSafetensorsHeader(
      g.map((i) => table[i]),
      'BF16',
      { format: 'pt' },
    ),
  );
  const fileBytes = headers.map((h) => h.bytes.length + (h.ranges.at(-1)?.[1] ?? 0));
  const dataBytes = table.reduce((a, p) => a + numel(p.shape) * 2, 0);
  const total = fileBytes.reduce((a, b) => a + b, 0);

  if (existsSync(o.dir) && reusable(o.dir, want)) {
    o.log(`reusing the ${o.preset.name} checkpoint in ${o.dir} (${fmtBytes(total)}, complete)`);
    return { dir: o.dir, reused: true, bytes: total, seconds: 0, params };
  }
  const created = !existsSync(o.dir);
  try {
    mkdirSync(o.dir, { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create ${o.dir}: ${(e as Error).message}; pass --out with a writable folder`);
  }
  const old = ourFiles(o.dir);
  const free = (o.freeBytes ?? statfsFree)(o.dir) + old.bytes;
  const need = total + (1 << 20);
  if (free < need) {
    if (created) rmdirSync(o.dir);
    throw new UserError(
      `not enough free space for the ${o.preset.name} checkpoint (L${o.layers}): it needs ${fmtBytes(need)}, ${o.dir} has ${fmtBytes(free)} free; free some space or pass --out on another disk`,
    );
  }
  rmSync(join(o.dir, MARKER), { force: true }); // first: a crash below leaves no marker behind
  for (const f of old.names) rmSync(join(o.dir, f), { force: true });
  o.log(
    `writing a random ${o.preset.name} checkpoint (${o.layers} layers, ${fmtCount(params)} parameters, bf16, ${names.length} shards, ${fmtBytes(total)}) to ${o.dir}`,
  );

  const t0 = performance.now();
  writeFileAtomic(join(o.dir, 'config.json'), JSON.stringify(sortKeys(configJson), null, 2) + '\n');
  const show = progress(o.log, o.dir, total);
  const buf = new Uint16Array(CHUNK);
  const bytesOf = (u: Uint16Array) => new Uint8Array(u.buffer, u.byteOffset, u.byteLength);
  const tables = new Map<string, Uint16Array>();
  let done = 0;
  for (let s = 0; s < groups.length; s++) {
    await writeFileAtomicStreaming(join(o.dir, names[s]), (sink) => {
      sink.write(headers[s].bytes);
      done += headers[s].bytes.length;
      for (const i of groups[s]) {
        const p = table[i];
        const n = numel(p.shape);
        const fill = valuesFor(cfg, p, i, seed, tables);
        for (let off = 0; off < n; off += CHUNK) {
          const part = buf.subarray(0, Math.min(CHUNK, n - off));
          fill(part);
          sink.write(bytesOf(part));
          done += part.byteLength;
          show(done);
        }
      }
    });
  }
  const weightMap: Record<string, string> = {};
  groups.forEach((g, s) => g.forEach((i) => (weightMap[table[i].name] = names[s])));
  if (names.length > 1) {
    const index = { metadata: { total_size: dataBytes }, weight_map: sortKeys(weightMap) };
    writeFileAtomic(join(o.dir, INDEX_FILE), JSON.stringify(index, null, 2) + '\n');
  }
  const seconds = (performance.now() - t0) / 1000;
  show(done, true);
  const files = Object.fromEntries(names.map((f) => [f, statSync(join(o.dir, f)).size]));
  writeFileAtomic(join(o.dir, MARKER), JSON.stringify({ ...want, files }, null, 2) + '\n');
  return { dir: o.dir, reused: false, bytes: total, seconds, params };
}

/** The generator of one tensor's values: 1 for norm weights, else the init scheme's truncated normal. */
function valuesFor(
  cfg: ReturnType<typeof parseConfig>,
  p: ParamEntry,
  index: number,
  seed: number,
  tables: Map<string, Uint16Array>,
): (out: Uint16Array) => void {
  if (p.shape.length < 2) return (out) => out.fill(0x3f80); // bf16 1.0
  const { std, cutoff } = initStd(cfg, p);
  const key = `${std}/${cutoff}`;
  let t = tables.get(key);
  if (!t) tables.set(key, (t = bf16NormalTable(std, cutoff)));
  const rng = new Sfc32(seed, index);
  const table = t;
  return (out) => fillFromTable(out, table, rng);
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, o[k]]),
  );
}
