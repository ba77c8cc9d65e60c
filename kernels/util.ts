// Small helpers shared by op launchers: uniform packing (std140-like: the caller lays fields out in
// WGSL declaration order, 4 bytes each; vec4 fields align to 16), argument checks that name the op
// and the shapes, and the 1-D grid fold.
import { EngineError } from '../engine/errors.ts';
import { Tensor, empty, isHalf, shapeStr, type DType } from '../engine/tensor.ts';
export { grid1d } from '../engine/runtime.ts';

export class Uniforms {
  private view: DataView;
  private buf: ArrayBuffer;
  private off = 0;
  constructor(bytes = 256) {
    this.buf = new ArrayBuffer(bytes);
    this.view = new DataView(this.buf);
  }
  u32(v: number): this {
    this.view.setUint32(this.off, v >>> 0, true);
    this.off += 4;
    return this;
  }
  i32(v: number): this {
    this.view.setInt32(this.off, v | 0, true);
    this.off += 4;
    return this;
  }
  f32(v: number): this {
    this.view.setFloat32(this.off, v, true);
    this.off += 4;
    return this;
  }
  /** Pad to the next multiple of 16 bytes (before a vec4 field). */
  align16(): this {
    this.off = Math.ceil(this.off / 16) * 16;
    return this;
  }
  vec4u(v: readonly number[]): this {
    this.align16();
    for (let i = 0; i < 4; i++) this.u32(v[i] ?? 0);
    return this;
  }
  bytes(): Uint8Array {
    return new Uint8Array(this.buf, 0, Math.max(16, Math.ceil(this.off / 16) * 16));
  }
}

export function checkDtype(op: string, t: Tensor, dtype: DType): void {
  t.assertLive(op);
  if (t.dtype !== dtype)
    throw new EngineError(`${op}: expected ${dtype} tensor, got ${t.dtype} ${t.label} ${shapeStr(t.shape)}`);
}

/** A weight operand: f32, or 16-bit (bf16/f16) storage that the matmul kernels decode as they read. */
export function checkWeightDtype(op: string, t: Tensor): void {
  t.assertLive(op);
  if (t.dtype !== 'f32' && !isHalf(t.dtype))
    throw new EngineError(`${op}: expected an f32, bf16 or f16 weight, got ${t.dtype} ${t.label} ${shapeStr(t.shape)}`);
}

export function checkRank(op: string, t: Tensor, rank: number | number[], what = 'input'): void {
  const ok = Array.isArray(rank) ? rank.includes(t.rank) : t.rank === rank;
  if (!ok) throw new EngineError(`${op}: ${what} must have rank ${rank}, got ${shapeStr(t.shape)}`);
}

export function fail(op: string, msg: string, ...tensors: Tensor[]): never {
  throw new EngineError(
    `${op}: ${msg} (${tensors.map((t) => `${t.label || 'tensor'} ${shapeStr(t.shape)}`).join(', ')})`,
  );
}

export const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Rows per chunk when a row-major operand of `rowBytes`-byte rows is bound in row ranges: each
 * range fits in `maxBytes` (default the binding limit). Every row when the whole operand fits.
 * Chunks start on minStorageBufferOffsetAlignment (plain views, no copies: see boundRows) whenever
 * that keeps at least half the rows a chunk could hold.
 */
export function rowsPerChunk(op: string, t: Tensor, rows: number, rowBytes: number, maxBytes?: number): number {
  return sharedRowsPerChunk(op, rows, [{ t, rowBytes, maxBytes }]);
}

/** rowsPerChunk for several operands split at the same rows (x and out of a row-split product). */
export function sharedRowsPerChunk(
  op: string,
  rows: number,
  parts: { t: Tensor; rowBytes: number; maxBytes?: number }[],
): number {
  const limitOf = (p: (typeof parts)[number]) =>
    Math.min(p.maxBytes ?? Infinity, p.t.rt.limits.maxStorageBufferBindingSize);
  if (parts.every((p) => rows * p.rowBytes <= limitOf(p))) return Math.max(rows, 1);
  let step = 1; // rows between two row starts that are aligned in every operand
  let chunk = Infinity;
  for (const p of parts) {
    const align = p.t.rt.limits.minStorageBufferOffsetAlignment;
    const s = align / gcd(p.rowBytes, align);
    step = (step / gcd(step, s)) * s;
    chunk = Math.min(chunk, Math.floor(limitOf(p) / p.rowBytes));
    if (chunk < 1) {
      throw new EngineError(
        `${op}: ${p.t.label || 'tensor'} ${shapeStr(p.t.shape)} cannot be split: one row of ${p.rowBytes} bytes is ` +
          `over maxStorageBufferBindingSize ${limitOf(p)}`,
      );
    }
  }
  const aligned = Math.floor(chunk / step) * step;
  return aligned >= chunk / 2 ? aligned : chunk;
}

/** Rows [r0, r1) of a row-major tensor as a view of the same storage (no copy, no autograd). */
export function rowsView(t: Tensor, r0: number, r1: number): Tensor {
  const rowElems = t.size / t.shape[0];
  const elemBytes = isHalf(t.dtype) ? 2 : 4; // a 16-bit range must start on a 4-byte boundary (callers keep r0 * rowElems even)
  return new Tensor(
    t.rt,
    t.storage,
    [r1 - r0, ...t.shape.slice(1)],
    t.dtype,
    t.byteOffset + r0 * rowElems * elemBytes,
    `${t.label}[${r0}:${r1}]`,
  );
}

/**
 * Rows [r0, r1) of `t` to bind: a view when they start on minStorageBufferOffsetAlignment, else a
 * copy in a fresh (aligned) buffer (copies need only 4-byte alignment). `write`: the caller
 * writes the rows; call done() after encoding that work so a copy goes back into `t`. `init`
 * (with write): the copy starts with t's values (the kernel accumulates into them).
 */
export function boundRows(t: Tensor, r0: number, r1: number, opts: { write?: boolean; init?: boolean } = {}) {
  if (r0 === 0 && r1 === t.shape[0]) return { t, done: () => {} };
  const view = rowsView(t, r0, r1);
  if (view.byteOffset % t.rt.limits.minStorageBufferOffsetAlignment === 0) {
    return { t: view, done: () => view.dispose() };
  }
  const copy = empty(t.rt, view.shape, t.dtype, `${view.label}:aligned`);
  const bytes = view.byteLength;
  if (!opts.write || opts.init) {
    t.rt.commandEncoder().copyBufferToBuffer(t.buffer, view.byteOffset, copy.buffer, 0, bytes);
  }
  return {
    t: copy,
    done: () => {
      if (opts.write) t.rt.commandEncoder().copyBufferToBuffer(copy.buffer, 0, t.buffer, view.byteOffset, bytes);
      copy.dispose();
      view.dispose();
    },
  };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
