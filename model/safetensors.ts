// safetensors files on disk: a SafetensorsReader (safetensors-format.ts: header validation, tensors
// read whole or in element ranges and converted to f32) over an open file descriptor, so host memory
// holds one range at a time, never the whole file. The format's parts re-exported for Node callers.
// Deliberately not here: writing (safetensors-write.ts), sharded directories (weights-dir.ts).

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { UserError } from '../engine/errors.ts';
import { SafetensorsReader, type ByteSource } from './safetensors-format.ts';

export {
  DTYPE_BYTES,
  MAX_HEADER_BYTES,
  numelOf,
  parseSafetensorsHeader,
  SafetensorsReader,
  type Dtype,
  type ParsedHeader,
  type TensorInfo,
} from './safetensors-format.ts';

/** An open .safetensors file; tensors are read on demand. Call close() when done. */
export class SafetensorsFile extends SafetensorsReader {
  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new UserError(`${path}: cannot open (${(e as Error).message})`);
    }
    let size: number;
    try {
      size = fstatSync(fd).size;
    } catch (e) {
      closeSync(fd);
      throw new UserError(`${path}: cannot read (${(e as Error).message})`);
    }
    const src: ByteSource = {
      size,
      read: (buf, position, where) => readFully(fd, buf, position, where),
      close: () => closeSync(fd),
    };
    return new SafetensorsFile(path, src, ...SafetensorsReader.readHeader(path, src));
  }
}

/** Fill `buf` from `position`; a short file (changed underneath us) is a UserError. */
function readFully(fd: number, buf: Uint8Array, position: number, where: string): void {
  let off = 0;
  const MAX_IO = 1 << 30; // below Node's 2 GiB per-call read limit
  while (off < buf.length) {
    let n: number;
    try {
      n = readSync(fd, buf, off, Math.min(buf.length - off, MAX_IO), position + off);
    } catch (e) {
      throw new UserError(`${where}: read failed (${(e as Error).message})`);
    }
    if (n === 0) throw new UserError(`${where}: file ended early (truncated while open?)`);
    off += n;
  }
}
