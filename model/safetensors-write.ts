// safetensors writer: the header is computed from names and shapes first, then tensor data is
// streamed one tensor (or one 64 MiB range of a tensor) at a time (F32 as is, BF16 / F16 rounded
// to nearest even from f32 values, or 16-bit bit patterns written as they are) into a temporary
// file that is renamed into place only when complete. Each tensor may have its own dtype (a
// checkpoint saves each in its own).
// Deliberately not here: reading (safetensors.ts), sharding (weights-dir.ts), integer dtypes.
// Layout as huggingface/safetensors writes it: header JSON padded with spaces to a multiple of
// 8 bytes, tensors contiguous in header order with no gaps.

import { endianness } from 'node:os';
import { EngineError, UserError } from '../engine/errors.ts';
import { writeFileAtomicStreaming, type ByteSink } from './atomic-file.ts';
import { f32ToBf16Bits, f32ToF16Bits } from './float-convert.ts';
import { DTYPE_BYTES, numelOf } from './safetensors.ts';

export type SaveDtype = 'F32' | 'BF16' | 'F16';

/** f32 values (converted to the tensor's dtype), or bit patterns already in its 16-bit dtype. */
export type TensorData = Float32Array | Uint16Array;

/**
 * One tensor to write. `data` may be a function so that a tensor is produced (e.g. read back from
 * the GPU) only when its turn comes: with lazy data, memory holds one tensor at a time.
 */
export interface TensorSource {
  name: string;
  shape: readonly number[];
  /** This tensor's dtype in the file (default: the file's WriteOptions.dtype). */
  dtype?: SaveDtype;
  data?: TensorData | (() => TensorData | Promise<TensorData>);
  /**
   * Instead of `data`: elements [start, start + count) on demand (f32 values, or bit patterns of
   * the tensor's 16-bit dtype), so a tensor of any size streams through chunks of at most 64 MiB
   * (e.g. read back from the GPU range by range).
   */
  read?(start: number, count: number): Promise<TensorData>;
}

/** Eager data in an iterator is held until written, since the header needs every shape first. */
export type TensorSources = Iterable<TensorSource> | AsyncIterable<TensorSource>;

export interface WriteOptions {
  dtype?: SaveDtype;
  metadata?: Record<string, string>;
}

// Element chunk for BF16 / F16 conversion: bounds the scratch buffer to 8 MiB.
const HALF_CHUNK = 4 << 20;
const WRITE_CHUNK = 64 << 20;

export async function collectSources(tensors: TensorSources): Promise<TensorSource[]> {
  const out: TensorSource[] = [];
  for await (const t of tensors) out.push(t);
  return out;
}

/** Header bytes (length prefix included) and each tensor's byte range in the data section. */
export function encodeSafetensorsHeader(
  entries: readonly { name: string; shape: readonly number[]; dtype?: SaveDtype }[],
  defaultDtype: SaveDtype,
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
    const dtype = e.dtype ?? defaultDtype;
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

async function materialize(t: TensorSource, dtype: SaveDtype): Promise<TensorData> {
  const data = typeof t.data === 'function' ? await t.data() : t.data;
  const numel = numelOf(t.shape);
  const ok = data instanceof Float32Array || (data instanceof Uint16Array && dtype !== 'F32');
  if (!ok || data.length !== numel) {
    const got = ok ? `${data.length} elements` : `a ${data?.constructor?.name ?? typeof data}`;
    throw new EngineError(
      `safetensors: ${dtype} tensor "${t.name}" of shape ${JSON.stringify(t.shape)} needs ${numel} f32 values` +
        `${dtype === 'F32' ? '' : ` or ${dtype} bit patterns`}, got ${got}`,
    );
  }
  return data;
}

function writeBytes(sink: ByteSink, a: Float32Array | Uint16Array): void {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  for (let off = 0; off < bytes.length; off += WRITE_CHUNK) sink.write(bytes.subarray(off, off + WRITE_CHUNK));
}

function writeTensor(sink: ByteSink, data: TensorData, dtype: SaveDtype, scratch: { buf: Uint16Array }): void {
  if (dtype === 'F32' || data instanceof Uint16Array) {
    writeBytes(sink, data);
    return;
  }
  if (scratch.buf.length === 0) scratch.buf = new Uint16Array(HALF_CHUNK);
  const encode = dtype === 'BF16' ? f32ToBf16Bits : f32ToF16Bits;
  for (let i = 0; i < data.length; i += HALF_CHUNK) {
    const part = data.subarray(i, i + HALF_CHUNK);
    const out = scratch.buf.subarray(0, part.length);
    encode(part, out);
    sink.write(new Uint8Array(out.buffer, 0, out.byteLength));
  }
}

/** Write one .safetensors file; returns its size in bytes. */
export async function writeSafetensors(path: string, tensors: TensorSources, opts: WriteOptions = {}): Promise<number> {
  if (endianness() !== 'LE') throw new UserError(`${path}: writing safetensors needs a little-endian host`);
  const dtype = opts.dtype ?? 'F32';
  const list = await collectSources(tensors);
  const { bytes, ranges } = encodeSafetensorsHeader(list, dtype, opts.metadata);
  const scratch = { buf: new Uint16Array(0) };
  let size = 0;
  await writeFileAtomicStreaming(path, async (sink) => {
    sink.write(bytes);
    for (let i = 0; i < list.length; i++) {
      const t = list[i];
      const d = t.dtype ?? dtype;
      if (t.read) {
        const numel = numelOf(t.shape);
        for (let start = 0; start < numel; start += WRITE_CHUNK / 4) {
          const count = Math.min(WRITE_CHUNK / 4, numel - start);
          const part = await t.read(start, count);
          const ok = part instanceof Float32Array || (part instanceof Uint16Array && d !== 'F32');
          if (!ok || part.length !== count) {
            throw new EngineError(`safetensors: tensor "${t.name}" read ${part.length} of ${count} ${d} values`);
          }
          writeTensor(sink, part, d, scratch);
        }
      } else writeTensor(sink, await materialize(t, d), d, scratch);
      if (sink.position !== bytes.length + ranges[i][1]) {
        throw new EngineError(`safetensors: tensor "${t.name}" wrote to the wrong offset`);
      }
    }
    size = sink.position;
  });
  return size;
}
