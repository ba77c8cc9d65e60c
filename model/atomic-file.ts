// Crash-safe file writes for checkpoints, configs and run logs: write to a temporary file beside the target,
// fsync, then rename over the target, so a crash leaves either the old file or the new one, never
// a truncated file that looks complete. Deliberately not here: any knowledge of file formats.
// The rename-after-fsync idiom is POSIX's atomic replace (rename(2)).

import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../engine/errors.ts';

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
