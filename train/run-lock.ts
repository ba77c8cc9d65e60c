// The run folder's lock: `<run>/.dllm-wgpu.lock`, a small JSON file ({pid, host, started}) created
// with O_EXCL when a run starts and removed when it ends, so two training processes never share a
// folder. A lock whose process is gone (same host, pid no longer running) is reported and taken
// over with a message; a live one, one from another host, or an unreadable one is refused with
// what to do. Deliberately not here: what a run folder holds (train/run-folder.ts).
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../engine/errors.ts';
import { injectedWriteFault } from '../model/atomic-file.ts';

export const LOCK_FILE = '.dllm-wgpu.lock';

export interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

export interface RunLock {
  readonly path: string;
  /** Removes the lock if it is still this process's. Safe to call more than once. */
  release(): void;
}

/** Lock files this process holds. */
const held = new Set<string>();
let exitHookInstalled = false;

function readLock(path: string): LockInfo | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockInfo>;
    if (Number.isSafeInteger(v.pid) && typeof v.host === 'string' && typeof v.started === 'string') {
      return v as LockInfo;
    }
  } catch {
    // unreadable: reported below
  }
  return null;
}

/** Whether `pid` names a running process on this host (EPERM: it runs, as another user). */
function isRunning(pid: number, path: string): boolean {
  // Our own pid: this process holds it (a second run in one process), or an earlier process had
  // our pid (containers restart pid numbering) and the lock is stale.
  if (pid === process.pid) return held.has(path);
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryCreate(path: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new UserError(`cannot create the run lock ${path}: ${(e as Error).message}`);
  }
  try {
    writeSync(fd, JSON.stringify(info) + '\n');
    injectedWriteFault(path);
  } catch (e) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw new UserError(`cannot write the run lock ${path}: ${(e as Error).message}`);
  }
  closeSync(fd);
  return true;
}

/** Takes the run folder's lock for this process, or throws a UserError that says who holds it. */
export function acquireRunLock(runDir: string, log: (line: string) => void): RunLock {
  const path = join(runDir, LOCK_FILE);
  const info: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  if (!tryCreate(path, info)) {
    const other = readLock(path);
    const remove = `if no training run uses ${runDir}, delete ${path}`;
    if (!other) throw new UserError(`${runDir} has a lock file that cannot be read (${path}); ${remove}`);
    const who = `pid ${other.pid} on ${other.host}, started ${other.started}`;
    if (other.host !== info.host) {
      throw new UserError(`${runDir} is locked by a run on another host (${who}); ${remove}`);
    }
    if (isRunning(other.pid, path)) {
      throw new UserError(
        `${runDir} is in use by another training run (${who}); wait for it to end or give --out another folder (${remove})`,
      );
    }
    // Stale: move it aside under a name of our own, so that of two processes taking over the same
    // stale lock at once, the second finds the first's fresh lock (EEXIST) and stops.
    const aside = `${path}.stale-${process.pid}`;
    try {
      renameSync(path, aside);
    } catch (e) {
      throw new UserError(`cannot take over the stale lock ${path}: ${(e as Error).message}`);
    }
    const moved = readLock(aside);
    if (moved?.pid !== other.pid || moved.started !== other.started) {
      renameSync(aside, path); // another process took the stale lock over first: give its lock back
      throw new UserError(`${runDir} was locked by another run just now (${path}); wait for it or use another folder`);
    }
    rmSync(aside, { force: true });
    log(`${runDir}: the run that locked it (${who}) is no longer running; taking over its lock`);
    if (!tryCreate(path, info)) {
      throw new UserError(`${runDir} was locked by another run just now (${path}); wait for it or use another folder`);
    }
  }
  held.add(path);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // An exit from anywhere (a second Ctrl-C, an uncaught error) still frees the folder.
    process.on('exit', () => {
      for (const p of held) releaseIfOurs(p);
    });
  }
  return {
    path,
    release() {
      if (held.delete(path)) releaseIfOurs(path);
    },
  };
}

function releaseIfOurs(path: string): void {
  if (!existsSync(path)) return;
  const cur = readLock(path);
  if (cur && cur.pid === process.pid && cur.host === hostname()) rmSync(path, { force: true });
}
