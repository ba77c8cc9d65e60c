// Crash-safe file writes for checkpoints, configs and run logs: write to a temporary file beside the target,
// fsync, then rename over the target, so a crash leaves either the old file or the new one, never
// a truncated file that looks complete. Deliberately not here: any knowledge of file formats.
// The rename-after-fsync idiom is POSIX's atomic replace (rename(2)).
// Test hook: DLLM_WGPU_TEST_FAIL_WRITE=NAME:CODE[,NAME:CODE...] (CODE: ENOSPC or EROFS) makes every
// write of a file named NAME fail with that error after its temporary file exists, so tests can
// check failure paths (exit 1, temporary files removed, earlier files kept) without a full disk.

import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../engine/errors.ts';

const FAULTS: Record<string, [errno: number, text: string]> = {
  ENOSPC: [-28, 'no space left on device'],
  EROFS: [-30, 'read-only file system'],
};

/** Throws the error DLLM_WGPU_TEST_FAIL_WRITE names for this file's name, if any (a test hook). */
export function injectedWriteFault(path: string): void {
  const spec = process.env.DLLM_WGPU_TEST_FAIL_WRITE;
  if (!spec) return;
  for (const item of spec.split(',')) {
    const [name, code = 'ENOSPC'] = item.trim().split(':');
    if (name !== basename(path)) continue;
    const [errno, text] = FAULTS[code] ?? FAULTS.ENOSPC;
    const err = new Error(`${code}: ${text}, write '${path}'`) as NodeJS.ErrnoException;
    Object.assign(err, { code: FAULTS[code] ? code : 'ENOSPC', errno, syscall: 'write', path });
    throw err;
  }
}

/** writeFileSync with the test hook above: for files written straight into a fresh temporary folder. */
export function writeFileChecked(path: string, data: string | Uint8Array): void {
  writeFileSync(path, data);
  injectedWriteFault(path);
}

function tempPathFor(path: string): string {
  const tag = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  return join(dirname(path), `.${basename(path)}.tmp-${tag}`);
}

function ioError(path: string, e: unknown): UserError {
  return new UserError(`${path}: cannot write (${(e as Error).message})`);
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = tempPathFor(path);
  try {
    writeFileSync(tmp, data);
    injectedWriteFault(path);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e instanceof UserError ? e : ioError(path, e);
  }
}

/** Append-only writer handed to `writeFileAtomicStreaming`'s callback. */
export interface ByteSink {
  write(bytes: Uint8Array): void;
  /** Bytes written so far. */
  readonly position: number;
}

/**
 * Stream bytes into `path` through a temporary file; the target appears only once `fill` has
 * resolved and the data is on disk. Any error removes the temporary file and is rethrown.
 */
export async function writeFileAtomicStreaming(
  path: string,
  fill: (sink: ByteSink) => Promise<void> | void,
): Promise<void> {
  const tmp = tempPathFor(path);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx');
  } catch (e) {
    throw ioError(path, e);
  }
  let position = 0;
  const sink: ByteSink = {
    write(bytes: Uint8Array) {
      let off = 0;
      try {
        while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off, position + off);
      } catch (e) {
        throw ioError(path, e);
      }
      position += bytes.length;
    },
    get position() {
      return position;
    },
  };
  let closed = false;
  try {
    injectedWriteFault(path);
    await fill(sink);
    try {
      fsyncSync(fd);
      closeSync(fd);
      closed = true;
      renameSync(tmp, path);
    } catch (e) {
      throw ioError(path, e);
    }
  } catch (e) {
    if (!closed) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}
