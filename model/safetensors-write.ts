// safetensors writer: the header is computed from names and shapes first, then tensor data is
// streamed one tensor (or one 64 MiB range of a tensor) at a time (F32 as is, or BF16 rounded to nearest even) into a temporary file
// that is renamed into place only when complete.
// Deliberately not here: reading (safetensors.ts), sharding (weights-dir.ts), other dtypes.
// Layout as huggingface/safetensors writes it: header JSON padded with spaces to a multiple of
// 8 bytes, tensors contiguous in header order with no gaps.

import { endianness } from 'node:os';
import { EngineError, UserError } from '../engine/errors.ts';
import { writeFileAtomicStreaming, type ByteSink } from './atomic-file.ts';
import { f32ToBf16Bits } from './float-convert.ts';
import { DTYPE_BYTES, numelOf } from './safetensors.ts';

export type SaveDtype = 'F32' | 'BF16';

/**
 * One tensor to write. `data` may be a function so that a tensor is produced (e.g. read back from
 * the GPU) only when its turn comes: with lazy data, memory holds one tensor at a time.
 */
export interface TensorSource {
  name: string;
  shape: readonly number[];
  data?: Float32Array | (() => Float32Array | Promise<Float32Array>);
  /**
   * Instead of `data`: elements [start, start + count) on demand, so a tensor of any size streams
   * through chunks of at most 64 MiB (e.g. read back from the GPU range by range).
   */
  read?(start: number, count: number): Promise<Float32Array>;
}

/** Eager data in an iterator is held until written, since the header needs every shape first. */
export type TensorSources = Iterable<TensorSource> | AsyncIterable<TensorSource>;

export interface WriteOptions {
  dtype?: SaveDtype;
  metadata?: Record<string, string>;
}

// Element chunk for BF16 conversion: bounds the scratch buffer to 8 MiB.
const BF16_CHUNK = 4 << 20;
const WRITE_CHUNK = 64 << 20;

export async function collectSources(tensors: TensorSources): Promise<TensorSource[]> {
  const out: TensorSource[] = [];
  for await (const t of tensors) out.push(t);
  return out;
}

/** Header bytes (length prefix included) and each tensor's byte range in the data section. */
export function encodeSafetensorsHeader(
  entries: readonly { name: string; shape: readonly number[] }[],
  dtype: SaveDtype,
  metadata?: Record<string, string>,
): { bytes: Uint8Array; ranges: [number, number][] } {
  const seen = new Set<string>();
  const parts: string[] = [];
  if (metadata) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  const ranges: [number, number][] = [];
  let offset = 0;
  for (const e of entries) {
    if (e.name === '__metadata__' || seen.has(e.name)) {
      throw new EngineError(`safetensors: tensor name "${e.name}" is reserved or duplicated`);
    }
    seen.add(e.name);
    if (!e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new EngineError(`safetensors: tensor "${e.name}" has invalid shape ${JSON.stringify(e.shape)}`);
    }
    const end = offset + numelOf(e.shape) * DTYPE_BYTES[dtype];
    ranges.push([offset, end]);
    // Built by hand so keys keep our order (JSON.stringify moves integer-like keys first).
    parts.push(`${JSON.stringify(e.name)}:${JSON.stringify({ dtype, shape: e.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  let json = `{${parts.join(',')}}`;
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const body = new TextEncoder().encode(json);
  const bytes = new Uint8Array(8 + body.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(body.length), true);
  bytes.set(body, 8);
  return { bytes, ranges };
}

async function materialize(t: TensorSource): Promise<Float32Array> {
  const data = typeof t.data === 'function' ? await t.data() : t.data;
  const numel = numelOf(t.shape);
  if (!(data instanceof Float32Array) || data.length !== numel) {
    const got = data instanceof Float32Array ? `${data.length} elements` : 'not a Float32Array';
    throw new EngineError(
      `safetensors: tensor "${t.name}" of shape ${JSON.stringify(t.shape)} needs ${numel} f32 values, got ${got}`,
    );
  }
  return data;
}

function writeTensor(sink: ByteSink, data: Float32Array, dtype: SaveDtype, scratch: Uint16Array): void {
  if (dtype === 'F32') {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    for (let off = 0; off < bytes.length; off += WRITE_CHUNK) sink.write(bytes.subarray(off, off + WRITE_CHUNK));
    return;
  }
  for (let i = 0; i < data.length; i += BF16_CHUNK) {
    const part = data.subarray(i, i + BF16_CHUNK);
    const out = scratch.subarray(0, part.length);
    f32ToBf16Bits(part, out);
    sink.write(new Uint8Array(out.buffer, 0, out.byteLength));
  }
}

/** Write one .safetensors file; returns its size in bytes. */
export async function writeSafetensors(path: string, tensors: TensorSources, opts: WriteOptions = {}): Promise<number> {
  if (endianness() !== 'LE') throw new UserError(`${path}: writing safetensors needs a little-endian host`);
  const dtype = opts.dtype ?? 'F32';
  const list = await collectSources(tensors);
  const { bytes, ranges } = encodeSafetensorsHeader(list, dtype, opts.metadata);
  const scratch = new Uint16Array(dtype === 'BF16' ? BF16_CHUNK : 0);
  let size = 0;
  await writeFileAtomicStreaming(path, async (sink) => {
    sink.write(bytes);
    for (let i = 0; i < list.length; i++) {
      const t = list[i];
      if (t.read) {
        const numel = numelOf(t.shape);
        for (let start = 0; start < numel; start += WRITE_CHUNK / 4) {
          const count = Math.min(WRITE_CHUNK / 4, numel - start);
          const part = await t.read(start, count);
          if (part.length !== count) {
            throw new EngineError(`safetensors: tensor "${t.name}" read ${part.length} of ${count} values`);
          }
          writeTensor(sink, part, dtype, scratch);
        }
      } else writeTensor(sink, await materialize(t), dtype, scratch);
      if (sink.position !== bytes.length + ranges[i][1]) {
        throw new EngineError(`safetensors: tensor "${t.name}" wrote to the wrong offset`);
      }
    }
    size = sink.position;
  });
  return size;
}
