// Run-folder checkpoint bookkeeping: atomic commit of a checkpoint directory, listing, pruning and
// resume resolution. A checkpoint is written into `<run>/.tmp-step-000120`, every file fsynced, a
// COMPLETE marker written last, then the folder renamed to `<run>/step-000120` and the run folder
// fsynced (the write-then-rename discipline of POSIX rename(2) atomicity). A folder without COMPLETE
// is never listed; `.tmp-step-*` leftovers of a crash are ignored and removed by cleanStaleTemps.
// Deliberately not here: what goes inside a checkpoint (model/ writes tensors, the trainer its state).
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UserError } from '../engine/errors.ts';

export const COMPLETE_MARKER = 'COMPLETE';
const NAME_RE = /^step-(\d{6,})$/;
const TMP_PREFIX = '.tmp-';
/** What commitCheckpoint leaves behind when it is interrupted: `.tmp-step-N` and `.tmp-old-step-N`. */
const STALE_RE = /^\.tmp-(old-)?step-\d{6,}$/;

export interface CheckpointEntry {
  step: number;
  path: string;
}

export function checkpointName(step: number): string {
  if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`checkpoint step ${step} must be an integer >= 0`);
  return `step-${String(step).padStart(6, '0')}`;
}

function fsyncPath(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch (e) {
    // Some platforms refuse fsync on a directory (EISDIR/EPERM/EINVAL); the data files are synced.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function fsyncTree(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) fsyncTree(p);
    else fsyncPath(p);
  }
  fsyncPath(dir);
}

export function isCompleteCheckpoint(dir: string): boolean {
  return existsSync(join(dir, COMPLETE_MARKER));
}

/**
 * Writes a checkpoint atomically: `write(tmpDir)` fills a fresh temporary folder, then it is sealed
 * and renamed into place. An existing checkpoint of the same step is replaced only after the new one
 * is complete. Returns the final path.
 */
export async function commitCheckpoint(
  runDir: string,
  step: number,
  write: (tmpDir: string) => void | Promise<void>,
): Promise<string> {
  mkdirSync(runDir, { recursive: true });
  const name = checkpointName(step);
  const tmp = join(runDir, `${TMP_PREFIX}${name}`);
  const final = join(runDir, name);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    await write(tmp);
    writeFileSync(join(tmp, COMPLETE_MARKER), JSON.stringify({ step, time: new Date().toISOString() }) + '\n');
    fsyncTree(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (existsSync(final)) {
    // rename(2) cannot replace a non-empty directory: move the old one aside first.
    const old = join(runDir, `${TMP_PREFIX}old-${name}`);
    rmSync(old, { recursive: true, force: true });
    renameSync(final, old);
    renameSync(tmp, final);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, final);
  }
  fsyncPath(runDir);
  return final;
}

/** Complete checkpoints of a run folder, oldest first. A missing folder has none. */
export function listCheckpoints(runDir: string): CheckpointEntry[] {
  if (!existsSync(runDir)) return [];
  const out: CheckpointEntry[] = [];
  for (const name of readdirSync(runDir)) {
    const m = NAME_RE.exec(name);
    if (!m) continue;
    const path = join(runDir, name);
    if (statSync(path).isDirectory() && isCompleteCheckpoint(path)) out.push({ step: Number(m[1]), path });
  }
  return out.sort((a, b) => a.step - b.step);
}

export function newestCheckpoint(runDir: string): CheckpointEntry | undefined {
  return listCheckpoints(runDir).at(-1);
}

/** Removes all but the newest `keepLast` complete checkpoints (0 keeps all). Returns removed paths. */
export function pruneCheckpoints(runDir: string, keepLast: number): string[] {
  if (keepLast <= 0) return [];
  const all = listCheckpoints(runDir);
  const doomed = all.slice(0, Math.max(0, all.length - keepLast)).map((c) => c.path);
  for (const p of doomed) rmSync(p, { recursive: true, force: true });
  return doomed;
}

/** Removes the `.tmp-step-*` folders an interrupted save leaves (nothing else). Returns removed paths. */
export function cleanStaleTemps(runDir: string): string[] {
  if (!existsSync(runDir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(runDir)) {
    if (!STALE_RE.test(name)) continue;
    const p = join(runDir, name);
    rmSync(p, { recursive: true, force: true });
    removed.push(p);
  }
  return removed;
}

/**
 * The checkpoint to resume from: "auto" = newest complete one in the run folder (none: start
 * fresh), false = none, a path = that checkpoint, which must be complete.
 */
export function resolveResume(resume: 'auto' | false | (string & {}), runDir: string): CheckpointEntry | undefined {
  if (resume === false) return undefined;
  if (resume === 'auto') return newestCheckpoint(runDir);
  const path = resolve(resume);
  if (!existsSync(path)) throw new UserError(`resume: checkpoint folder not found: ${path}`);
  if (!isCompleteCheckpoint(path)) {
    throw new UserError(
      `resume: ${path} is not a complete checkpoint (no ${COMPLETE_MARKER} marker); the save was interrupted`,
    );
  }
  const m = NAME_RE.exec(basename(path));
  if (!m) throw new UserError(`resume: ${path} is not named step-NNNNNN`);
  return { step: Number(m[1]), path };
}
