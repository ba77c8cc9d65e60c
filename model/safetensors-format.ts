// safetensors reading without a file system: header parsing with strict validation, and a reader
// that takes tensors (whole, or in element ranges) from any byte source, converting F32, F64, F16
// and BF16 to Float32Array, so host memory holds one range at a time. The source is a file in Node
// (safetensors.ts: SafetensorsFile) or the bytes a browser fetched (bytesSource).
// Deliberately not here: writing (safetensors-write.ts), sharded directories (checkpoint-weights.ts),
// integer tensors as numbers (their raw bytes are available through readRaw).
// Format: huggingface/safetensors README ("Format"): u64 little-endian header length N, N bytes of
// UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}, then
// the data section; offsets are relative to its start. The 100 MB header cap is the reference's.

import { EngineError, UserError } from '../engine/errors.ts';
import { bf16BitsToF32, f16BitsToF32 } from './float-convert.ts';

export const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
} as const;
export type Dtype = keyof typeof DTYPE_BYTES;
const FLOAT_DTYPES: readonly Dtype[] = ['F64', 'F32', 'F16', 'BF16'];

export const MAX_HEADER_BYTES = 100_000_000;
// Read granularity: a multiple of 8 so every chunk holds whole elements of every dtype.
const CHUNK_BYTES = 16 << 20;

export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Byte range inside the data section. */
  begin: number;
  end: number;
}

export interface ParsedHeader {
  /** Sorted by data offset. */
  tensors: TensorInfo[];
  metadata: Record<string, string> | null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Validate a header against the length of the data section that follows it. */
export function parseSafetensorsHeader(bytes: Uint8Array, dataLength: number, file: string): ParsedHeader {
  const bad = (what: string) => new UserError(`${file}: invalid safetensors header: ${what}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw bad('not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(`not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) throw bad('the header must be a JSON object');

  let metadata: Record<string, string> | null = null;
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isObject(entry) || !Object.values(entry).every((v) => typeof v === 'string')) {
        throw bad('"__metadata__" must be an object of string values');
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    const badT = (what: string) => bad(`tensor "${name}": ${what}`);
    if (!isObject(entry)) throw badT('entry must be an object');
    const { dtype, shape, data_offsets: offsets } = entry;
    if (dtype === undefined || shape === undefined || offsets === undefined) {
      throw badT('entry needs "dtype", "shape" and "data_offsets"');
    }
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
      throw badT(`unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw badT(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      throw badT(`data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) throw badT(`data_offsets [${begin}, ${end}] has begin > end`);
    if (end > dataLength) {
      throw badT(`data_offsets [${begin}, ${end}] run past the data section (${dataLength} bytes)`);
    }
    // Bound the element count by the data section before multiplying on, so a hostile shape can
    // neither overflow the safe-integer range unnoticed nor drive any allocation.
    let numel = shape.includes(0) ? 0 : 1;
    for (const d of shape) {
      if (numel > dataLength) break;
      numel *= d;
    }
    const size = DTYPE_BYTES[dtype as Dtype];
    if (numel > dataLength || numel * size !== end - begin) {
      const need = numel > dataLength ? `more than ${dataLength}` : String(numel * size);
      throw badT(`shape ${JSON.stringify(shape)} x ${dtype} needs ${need} bytes but data_offsets span ${end - begin}`);
    }
    tensors.push({ name, dtype: dtype as Dtype, shape: shape, begin, end });
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let last: TensorInfo | null = null;
  for (const t of tensors) {
    if (t.begin === t.end) continue;
    if (last && t.begin < last.end) {
      throw bad(`tensors "${last.name}" [${last.begin}, ${last.end}] and "${t.name}" [${t.begin}, ${t.end}] overlap`);
    }
    last = t;
  }
  return { tensors, metadata };
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Random access to a file's bytes: `read` fills all of `buf` from `position` or throws a UserError
 * naming `where` (a short file is one).
 */
export interface ByteSource {
  readonly size: number;
  read(buf: Uint8Array, position: number, where: string): void;
  close(): void;
}

/** A source over bytes already in memory (a fetched file). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(buf, position, where) {
      if (position + buf.length > bytes.length) throw new UserError(`${where}: file ended early (truncated?)`);
      buf.set(bytes.subarray(position, position + buf.length));
    },
    close() {},
  };
}

function littleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

/** A .safetensors file over a byte source; tensors are read on demand. Call close() when done. */
export class SafetensorsReader {
  readonly metadata: Record<string, string> | null;
  private readonly byName: Map<string, TensorInfo>;
  private readonly list: TensorInfo[];
  private src: ByteSource | null;

  protected constructor(
    readonly path: string,
    src: ByteSource,
    private readonly dataStart: number,
    header: ParsedHeader,
  ) {
    this.src = src;
    this.metadata = header.metadata;
    this.list = header.tensors;
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
  }

  /** Validate the header of `src` (named `path` in errors) and open it for reading; closes `src` on failure. */
  static over(path: string, src: ByteSource): SafetensorsReader {
    return new SafetensorsReader(path, src, ...SafetensorsReader.readHeader(path, src));
  }

  protected static readHeader(path: string, src: ByteSource): [number, ParsedHeader] {
    try {
      if (!littleEndian()) throw new UserError(`${path}: reading safetensors needs a little-endian host`);
      const fileSize = src.size;
      if (fileSize < 8)
        throw new UserError(
          `${path}: not a safetensors file: ${fileSize} bytes, shorter than the 8-byte header length`,
        );
      const lenBytes = new Uint8Array(8);
      src.read(lenBytes, 0, path);
      const n = new DataView(lenBytes.buffer).getBigUint64(0, true);
      if (n > BigInt(MAX_HEADER_BYTES)) {
        throw new UserError(
          `${path}: invalid safetensors header: length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`,
        );
      }
      if (n > BigInt(fileSize - 8)) {
        throw new UserError(
          `${path}: invalid safetensors header: length ${n} exceeds the ${fileSize - 8} bytes after it (truncated file?)`,
        );
      }
      const headerLen = Number(n);
      const headerBytes = new Uint8Array(headerLen);
      src.read(headerBytes, 8, path);
      return [8 + headerLen, parseSafetensorsHeader(headerBytes, fileSize - 8 - headerLen, path)];
    } catch (e) {
      src.close();
      throw e;
    }
  }

  /** Tensors in data-offset order. */
  tensors(): readonly TensorInfo[] {
    return this.list;
  }

  names(): string[] {
    return this.list.map((t) => t.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new UserError(`${this.path}: no tensor "${name}" in this file`);
    return t;
  }

  /** Raw little-endian bytes of one tensor, any dtype. */
  readRaw(name: string): Uint8Array {
    const t = this.info(name);
    const out = new Uint8Array(t.end - t.begin);
    this.source().read(out, this.dataStart + t.begin, `${this.path} (tensor "${name}")`);
    return out;
  }

  /** Bytes of elements [start, start + count) of one tensor as stored (no conversion). */
  readRawRange(name: string, start: number, count: number): Uint8Array {
    const t = this.info(name);
    const size = DTYPE_BYTES[t.dtype];
    const numel = numelOf(t.shape);
    if (start < 0 || count < 0 || start + count > numel) {
      throw new EngineError(`readRawRange("${name}"): [${start}, ${start + count}) of ${numel}`);
    }
    const out = new Uint8Array(count * size);
    this.source().read(out, this.dataStart + t.begin + start * size, `${this.path} (tensor "${name}")`);
    return out;
  }

  /** One floating-point tensor as f32, into `out` when given (its length must match). */
  readTensor(name: string, out?: Float32Array): Float32Array {
    const numel = numelOf(this.info(name).shape);
    if (out && out.length !== numel) {
      throw new EngineError(`readTensor("${name}"): output has ${out.length} elements, tensor has ${numel}`);
    }
    return this.readRange(name, 0, numel, out ?? new Float32Array(numel));
  }

  /**
   * Elements [start, start + out.length) of a floating-point tensor (flat, row-major) as f32 into
   * `out`: a big tensor streams through a buffer of the caller's size.
   */
  readRange(name: string, start: number, count: number, out: Float32Array): Float32Array {
    const t = this.info(name);
    if (!FLOAT_DTYPES.includes(t.dtype)) {
      throw new UserError(
        `${this.path}: tensor "${name}" has dtype ${t.dtype}; only ${FLOAT_DTYPES.join(', ')} load as weights`,
      );
    }
    const numel = numelOf(t.shape);
    if (start < 0 || count < 0 || start + count > numel || out.length < count) {
      throw new EngineError(`readRange("${name}"): [${start}, ${start + count}) of ${numel} into ${out.length}`);
    }
    const dst = out.subarray(0, count);
    const src = this.source();
    const where = `${this.path} (tensor "${name}")`;
    const size = DTYPE_BYTES[t.dtype];
    const at = this.dataStart + t.begin + start * size;
    if (t.dtype === 'F32') {
      src.read(new Uint8Array(dst.buffer, dst.byteOffset, count * 4), at, where);
      return dst;
    }
    const chunk = new Uint8Array(Math.min(CHUNK_BYTES, count * size));
    for (let i = 0; i < count;) {
      const n = Math.min(count - i, CHUNK_BYTES / size);
      const bytes = chunk.subarray(0, n * size);
      src.read(bytes, at + i * size, where);
      const part = dst.subarray(i, i + n);
      if (t.dtype === 'F64') part.set(new Float64Array(chunk.buffer, 0, n));
      else if (t.dtype === 'BF16') bf16BitsToF32(new Uint16Array(chunk.buffer, 0, n), part);
      else f16BitsToF32(new Uint16Array(chunk.buffer, 0, n), part);
      i += n;
    }
    return dst;
  }

  /** Every tensor in file order, one at a time. */
  *entries(): Generator<{ name: string; shape: number[]; dtype: Dtype; data: Float32Array }> {
    for (const t of this.list) yield { name: t.name, shape: t.shape, dtype: t.dtype, data: this.readTensor(t.name) };
  }

  close(): void {
    this.src?.close();
    this.src = null;
  }

  private source(): ByteSource {
    if (this.src === null) throw new EngineError(`${this.path}: read after close()`);
    return this.src;
  }
}
