// Tensor: a typed, shaped view of a GPU buffer with explicit lifetime. Several tensors may share
// one Storage (reshape, arena views); the storage returns its buffer to the pool when the last
// view is disposed. Lifetime is explicit (dispose / Runtime.scope), never the garbage collector.
// Ops are free functions in kernels/, not methods here (no import cycles, small file).
// Element types: f32, i32, u32 (4 bytes), and the 16-bit float storage formats bf16 and f16 that
// weights use (2 bytes, raw bit patterns on the host as Uint16Array; a buffer's byte length is
// rounded up to a multiple of 4, as WebGPU needs). No kernel computes in 16 bits: they decode to f32.
import { EngineError } from './errors.ts';
import { sizeClass } from './pool.ts';
import type { Runtime } from './runtime.ts';
import type { GradNode } from './autograd.ts';

export type DType = 'f32' | 'i32' | 'u32' | 'bf16' | 'f16';
export type HalfDType = 'bf16' | 'f16';
export type TypedArrayFor<D extends DType> = D extends 'f32'
  ? Float32Array
  : D extends 'i32'
    ? Int32Array
    : D extends 'u32'
      ? Uint32Array
      : Uint16Array;
export type HostArray = Float32Array | Int32Array | Uint32Array | Uint16Array;

export const isHalf = (d: DType): d is HalfDType => d === 'bf16' || d === 'f16';

/** Bytes of `n` elements of `dtype` in a buffer: 16-bit types padded to a multiple of 4. */
export function bytesFor(dtype: DType, n: number): number {
  return isHalf(dtype) ? Math.ceil(n / 2) * 4 : n * 4;
}

export class Storage {
  refs = 0;
  constructor(
    readonly rt: Runtime,
    readonly buffer: GPUBuffer,
    /** false for arena storage owned elsewhere (never returned to the pool). */
    readonly pooled: boolean,
  ) {}
  retain(): void {
    this.refs++;
  }
  release(): void {
    if (--this.refs === 0 && this.pooled) this.rt.pool.release(this.buffer, this.rt.hasPendingWork);
  }
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

let nextId = 1;

export class Tensor {
  readonly isTensor = true;
  readonly id = nextId++;
  readonly size: number;
  requiresGrad = false;
  /** Accumulated gradient (leaf tensors). */
  grad: Tensor | null = null;
  /** The tape node that produced this tensor (null for leaves). */
  node: GradNode | null = null;
  private _disposed = false;

  constructor(
    readonly rt: Runtime,
    readonly storage: Storage,
    readonly shape: readonly number[],
    readonly dtype: DType = 'f32',
    /** Byte offset of element 0 in the storage buffer (multiple of 256 for views that are bound). */
    readonly byteOffset = 0,
    public label = '',
  ) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new EngineError(`tensor ${label}: invalid shape ${shapeStr(shape)}`);
    }
    this.size = numel(shape);
    storage.retain();
    rt.track(this);
  }

  get byteLength(): number {
    return bytesFor(this.dtype, this.size);
  }
  get rank(): number {
    return this.shape.length;
  }
  get disposed(): boolean {
    return this._disposed;
  }
  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }

  /** The bind-group resource for this tensor's elements. */
  binding(): GPUBufferBinding {
    this.assertLive('bind');
    // No zero-size bindings in WebGPU: an empty tensor binds 4 bytes it never reads.
    return { buffer: this.storage.buffer, offset: this.byteOffset, size: Math.max(4, this.byteLength) };
  }

  assertLive(op: string): void {
    if (this._disposed) {
      throw new EngineError(
        `${op}: tensor ${this.label || '#' + this.id} ${shapeStr(this.shape)} was used after dispose()`,
      );
    }
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this.node = null;
    this.storage.release();
    this.rt.untrack(this);
  }

  /** Keep this tensor beyond the current scope (the caller now owns it). */
  keep(): this {
    this.rt.untrack(this);
    return this;
  }

  /** A tensor of another shape sharing this one's storage (no copy). */
  view(shape: readonly number[], label = this.label): Tensor {
    this.assertLive('view');
    if (numel(shape) !== this.size) {
      throw new EngineError(
        `reshape: cannot view ${shapeStr(this.shape)} (${this.size} elements) as ${shapeStr(shape)}`,
      );
    }
    return new Tensor(this.rt, this.storage, shape, this.dtype, this.byteOffset, label);
  }

  /** Read the elements back to the host. A sync point. */
  async read(): Promise<TypedArrayFor<DType>> {
    this.assertLive('read');
    const bytes = await this.rt.readBytes(this.storage.buffer, this.byteOffset, this.byteLength);
    return typed(this.dtype, bytes, this.size);
  }

  async readF32(): Promise<Float32Array> {
    if (this.dtype !== 'f32') throw new EngineError(`readF32: tensor ${this.label} has dtype ${this.dtype}`);
    return (await this.read()) as Float32Array;
  }

  /** Overwrite the contents (ordered after the work encoded so far); bf16/f16 take a Uint16Array of bits. */
  write(data: ArrayLike<number>): void {
    this.assertLive('write');
    if (data.length !== this.size) {
      throw new EngineError(`write: ${data.length} values for tensor ${this.label} ${shapeStr(this.shape)}`);
    }
    this.rt.writeBytes(this.storage.buffer, this.byteOffset, toTyped(this.dtype, data));
  }

  toString(): string {
    return `Tensor(${this.label || '#' + this.id}, ${this.dtype}, ${shapeStr(this.shape)})`;
  }
}

function typed(dtype: DType, bytes: ArrayBuffer, n: number): HostArray {
  if (isHalf(dtype)) return new Uint16Array(bytes, 0, n);
  return dtype === 'f32' ? new Float32Array(bytes) : dtype === 'i32' ? new Int32Array(bytes) : new Uint32Array(bytes);
}

function toTyped(dtype: DType, data: ArrayLike<number>): HostArray {
  if (isHalf(dtype)) {
    // Values and bit patterns are both numbers: insist on bits, so 0.5 never uploads as 0x0000.
    if (!(data instanceof Uint16Array))
      throw new EngineError(`a ${dtype} tensor takes its bit patterns as a Uint16Array`);
    return data;
  }
  if (dtype === 'f32') return data instanceof Float32Array ? data : Float32Array.from(data);
  if (dtype === 'i32') return data instanceof Int32Array ? data : Int32Array.from(data);
  return data instanceof Uint32Array ? data : Uint32Array.from(data);
}

/** queue.writeBuffer wants whole 4-byte words: an odd count of 16-bit elements gets a zero pad. */
function padTo4(a: HostArray): HostArray {
  if (a.byteLength % 4 === 0) return a;
  const out = new Uint16Array(a.length + 1);
  out.set(a);
  return out;
}

/** A new uninitialised tensor from the pool. */
export function empty(rt: Runtime, shape: readonly number[], dtype: DType = 'f32', label = ''): Tensor {
  const bytes = Math.max(4, bytesFor(dtype, numel(shape)));
  // A tensor may be larger than one binding (ops that meet it bind it in ranges; Runtime.run
  // refuses any binding over the limit), never larger than a buffer.
  const maxBuffer = rt.limits.maxBufferSize;
  if (sizeClass(bytes) > maxBuffer) {
    throw new EngineError(
      `tensor ${label} ${shapeStr(shape)} needs ${bytes} bytes, over this adapter's maxBufferSize ${maxBuffer}`,
    );
  }
  const buf = rt.pool.acquire(bytes, label || 'tensor');
  return new Tensor(rt, new Storage(rt, buf, true), shape, dtype, 0, label);
}

/** A tensor holding `data` (uploaded with queue.writeBuffer into a fresh pool buffer). */
export function tensor(
  rt: Runtime,
  data: ArrayLike<number>,
  shape: readonly number[],
  dtype: DType = 'f32',
  label = '',
): Tensor {
  if (data.length !== numel(shape)) {
    throw new EngineError(`tensor ${label}: ${data.length} values do not fill shape ${shapeStr(shape)}`);
  }
  const t = empty(rt, shape, dtype, label);
  // Safe without ordering against encoded work: a pool buffer handed out is never referenced by
  // unsubmitted commands (released buffers only become free after submit, engine/pool.ts).
  if (data.length > 0) rt.gpu.queue.writeBuffer(t.buffer, 0, padTo4(toTyped(dtype, data)));
  return t;
}

/** A zero-filled tensor. */
export function zeros(rt: Runtime, shape: readonly number[], dtype: DType = 'f32', label = ''): Tensor {
  const t = empty(rt, shape, dtype, label);
  fill0(t);
  return t;
}

/** Zero a tensor's elements in place (encoded, ordered with other work). */
export function fill0(t: Tensor): void {
  const bytes = Math.ceil(t.byteLength / 4) * 4;
  if (bytes > 0) t.rt.commandEncoder().clearBuffer(t.buffer, t.byteOffset, bytes);
}
