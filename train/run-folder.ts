// Run folders that never lose or mix work. A run folder carries a marker (`.dllm-wgpu-run`, written
// when the folder is created; folders from before the marker count as runs when they hold
// config.toml and the metrics file) and, while a run uses it, the lock of train/run-lock.ts.
// Opening one decides what a `train` command does there:
// - a new or empty folder: a fresh run;
// - the same resolved config as the one saved there: continue from the newest checkpoint, or, when
//   summary.json says the run finished, report it complete;
// - a different config: refused, listing the keys, unless `--resume` (every difference must be a
//   key that may change on resume, checked against the checkpoint's own config.toml) or
//   `--overwrite` (the run's files are deleted and it starts over);
// - a folder with other contents, or a file: refused.
// Only files a run names (config.toml, summary.json, the metrics and plot files, step-NNNNNN and
// their .tmp- folders) are ever deleted, and only inside a folder with the marker.
// Deliberately not here: the checkpoint format (state.ts) and the loop (trainer.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../engine/errors.ts';
import { writeFileAtomic } from '../model/atomic-file.ts';
import { loadTrainConfig, type TrainConfig } from './config.ts';
import { schemaSections } from './config-schema.ts';
import { newestCheckpoint, resolveResume, type CheckpointEntry } from './checkpoint-dir.ts';
import { acquireRunLock, LOCK_FILE, type RunLock } from './run-lock.ts';
import { holdSignals } from './interrupt.ts';
import { RESUME_MAY_CHANGE } from './resume-keys.ts';

export { LOCK_FILE } from './run-lock.ts';
export { RESUME_MAY_CHANGE } from './resume-keys.ts';
export const RUN_MARKER = '.dllm-wgpu-run';
const SUMMARY = 'summary.json';
const CONFIG = 'config.toml';

/** Keys that say how a command was started, not what the run is. */
const NOT_COMPARED = new Set(['resume', 'out']);

export type RunPlan =
  | { kind: 'fresh' }
  | { kind: 'resume'; from: CheckpointEntry; changed: string[] }
  | { kind: 'complete'; summary: Record<string, unknown> };

export interface RunFolder {
  dir: string;
  plan: RunPlan;
  lock: RunLock;
  /** Frees the folder for the next run (idempotent). */
  release(): void;
}

export interface ConfigDiff {
  key: string;
  was: unknown;
  now: unknown;
}

export function runFolderPath(cfg: TrainConfig, override?: string): string {
  return resolve(override ?? (cfg.out || join('runs', cfg.name)));
}

function flatten(cfg: TrainConfig): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const c = cfg as unknown as Record<string, Record<string, unknown>>;
  for (const [section, fields] of schemaSections()) {
    const values = section ? c[section] : (c as unknown as Record<string, unknown>);
    for (const key of Object.keys(fields)) out.set(section ? `${section}.${key}` : key, values?.[key]);
  }
  return out;
}

/** Keys whose resolved values differ (launch-only keys such as `resume` and `out` excepted). */
export function diffConfigs(was: TrainConfig, now: TrainConfig): ConfigDiff[] {
  const a = flatten(was),
    b = flatten(now);
  const out: ConfigDiff[] = [];
  for (const [key, v] of b) {
    if (NOT_COMPARED.has(key)) continue;
    if (JSON.stringify(a.get(key)) !== JSON.stringify(v)) out.push({ key, was: a.get(key), now: v });
  }
  return out;
}

export function formatDiff(d: readonly ConfigDiff[]): string {
  const show = (v: unknown) => (v === undefined ? '(unset)' : JSON.stringify(v));
  return d.map((x) => `${x.key} ${show(x.was)} -> ${show(x.now)}`).join(', ');
}

function readSavedConfig(path: string): TrainConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return loadTrainConfig(text, path);
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    throw new UserError(
      `cannot compare with the run saved there: ${why}; --overwrite starts the run over, or give --out another folder`,
    );
  }
}

/** The named files of a run, from the current config and the one saved in the folder. */
function removeRunFiles(dir: string, cfgs: readonly (TrainConfig | null)[]): number {
  const named = new Set([CONFIG, SUMMARY]);
  for (const c of cfgs) if (c) [c.logging.metrics_file, c.logging.plot_file].forEach((f) => named.add(f));
  let n = 0;
  for (const name of readdirSync(dir)) {
    const atomicTemp = /^\.(.+)\.tmp-\d+-[a-z0-9]+$/.exec(name);
    const mine =
      named.has(name) ||
      /^(\.tmp-(old-)?)?step-\d{6,}$/.test(name) ||
      (atomicTemp !== null && named.has(atomicTemp[1]));
    if (!mine) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    n++;
  }
  return n;
}

function readSummary(dir: string): Record<string, unknown> | null {
  try {
    const s = JSON.parse(readFileSync(join(dir, SUMMARY), 'utf8')) as unknown;
    return s !== null && typeof s === 'object' && !Array.isArray(s) ? (s as Record<string, unknown>) : null;
  } catch {
    return null; // absent or torn: the run has not finished
  }
}

/**
 * Checks that `cfg` may continue from checkpoint `ck`: every key that differs from the config the
 * checkpoint was trained with (its own config.toml, else the run's) must be one of RESUME_MAY_CHANGE.
 */
export function checkResume(cfg: TrainConfig, ck: CheckpointEntry, runConfig: TrainConfig | null): string[] {
  const own = join(ck.path, CONFIG);
  const trained = existsSync(own) ? readSavedConfig(own) : runConfig;
  if (!trained) return [];
  const diff = diffConfigs(trained, cfg);
  const blocked = diff.filter((d) => !RESUME_MAY_CHANGE.includes(d.key));
  if (blocked.length) {
    throw new UserError(
      `cannot resume from ${ck.path}: its config differs in ${blocked.length === 1 ? 'a key' : 'keys'} that must not ` +
        `change on resume: ${formatDiff(blocked)}; restore ${blocked.length === 1 ? 'it' : 'them'} ` +
        '(`train --help` lists the keys that may change), or --overwrite to start the run over, or --out another folder',
    );
  }
  return diff.map((d) => d.key);
}

function decide(dir: string, cfg: TrainConfig, overwrite: boolean, log: (l: string) => void): RunPlan {
  const savedPath = join(dir, CONFIG);
  const saved = existsSync(savedPath) ? readSavedConfig(savedPath) : null;
  if (overwrite) {
    const n = removeRunFiles(dir, [cfg, saved]);
    if (n) log(`--overwrite: removed ${n} file(s) and checkpoint folder(s) of the earlier run in ${dir}`);
    return { kind: 'fresh' };
  }
  if (typeof cfg.resume === 'string' && cfg.resume !== 'auto') {
    const from = resolveResume(cfg.resume, dir)!;
    return { kind: 'resume', from, changed: checkResume(cfg, from, saved) };
  }
  const newest = newestCheckpoint(dir);
  const diff = saved ? diffConfigs(saved, cfg) : [];
  if (diff.length === 0) {
    const summary = saved ? readSummary(dir) : null;
    if (summary) return { kind: 'complete', summary };
    if (newest) return { kind: 'resume', from: newest, changed: checkResume(cfg, newest, saved) };
    removeRunFiles(dir, [cfg, saved]); // the same run, never checkpointed: its partial logs start over
    return { kind: 'fresh' };
  }
  if (cfg.resume === false) {
    throw new UserError(
      `${dir} holds a run with another config (${formatDiff(diff)}); --resume continues it if only keys that ` +
        'may change on resume differ (`train --help` lists them), --overwrite deletes its checkpoints and metrics ' +
        'and starts over, or give --out another folder',
    );
  }
  if (!newest) {
    throw new UserError(
      `${dir} holds a run with another config (${formatDiff(diff)}) and no complete checkpoint to resume from; ` +
        '--overwrite starts it over, or give --out another folder',
    );
  }
  return { kind: 'resume', from: newest, changed: checkResume(cfg, newest, saved) };
}

/**
 * Opens (creating if needed) and locks the run folder of `cfg`, and decides what the run does
 * there. The caller must `release()` it when the run's last file is written.
 */
export function openRunFolder(
  cfg: TrainConfig,
  o: { out?: string; overwrite?: boolean; log: (line: string) => void },
): RunFolder {
  const dir = runFolderPath(cfg, o.out);
  if (o.overwrite && cfg.resume !== false) {
    throw new UserError('--overwrite starts the run over and --resume (resume) continues it: give one of them');
  }
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(dir, { throwIfNoEntry: false });
  } catch (e) {
    throw new UserError(`run folder ${dir}: ${(e as Error).message}`);
  }
  if (st && !st.isDirectory()) throw new UserError(`run folder ${dir} is a file, not a folder: give --out a folder`);
  const created = !st;
  if (!st) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new UserError(`cannot create the run folder ${dir}: ${(e as Error).message}`);
    }
  } else {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch (e) {
      throw new UserError(`cannot read the run folder ${dir}: ${(e as Error).message}`);
    }
    const legacy = entries.includes(CONFIG) && entries.includes(cfg.logging.metrics_file);
    const isRun = entries.includes(RUN_MARKER) || legacy;
    if (!isRun && entries.some((e) => e !== LOCK_FILE)) {
      throw new UserError(
        `${dir} is not empty and is not a dllm-wgpu run folder (no ${RUN_MARKER}, no ${CONFIG} + ` +
          `${cfg.logging.metrics_file}); nothing was written: give --out a new or empty folder`,
      );
    }
  }
  let lock: RunLock;
  try {
    lock = acquireRunLock(dir, o.log);
  } catch (e) {
    if (created) {
      try {
        rmdirSync(dir); // the folder this run created, still empty: leave nothing behind
      } catch {
        // not empty or already gone: leave it
      }
    }
    throw e;
  }
  const releaseSignals = holdSignals();
  const release = () => {
    lock.release();
    releaseSignals();
  };
  try {
    const marker = join(dir, RUN_MARKER);
    if (!existsSync(marker)) {
      writeFileAtomic(marker, JSON.stringify({ format: 'dllm-wgpu-run/1', created: new Date().toISOString() }) + '\n');
    }
    return { dir, plan: decide(dir, cfg, !!o.overwrite, o.log), lock, release };
  } catch (e) {
    release();
    throw e;
  }
}
