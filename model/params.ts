// Parameter arenas: every parameter, its gradient and the two AdamW moments each live in ONE GPU
// buffer, as views aligned to minStorageBufferOffsetAlignment. Zeroing all gradients is one
// clearBuffer, AdamW is one dispatch per arena chunk, and a checkpoint is the arena mapped to HF
// tensor names. Parameters are laid out 2-D matrices first (weight-decayed), then 1-D norm
// weights (not decayed), so each group is one contiguous range.
// Deliberately not here: initialisation (init.ts), file formats (io.ts).
import type { Runtime } from '../engine/runtime.ts';
import { Storage, Tensor, fill0 } from '../engine/tensor.ts';
import { EngineError } from '../engine/errors.ts';

export interface ParamSpec {
  name: string;
  shape: number[];
}

export interface Arena {
  buffer: GPUBuffer;
  storage: Storage;
  /** Whole arena as one flat tensor (for AdamW, norms, clears). */
  flat: Tensor;
}

export class ParamStore {
  readonly params = new Map<string, Tensor>();
  readonly order: ParamSpec[];
  readonly offsets = new Map<string, number>(); // in floats
  /** Floats in the decayed (matrix) group; the rest of the arena is the 1-D group. */
  readonly decayFloats: number;
  readonly totalFloats: number;
  readonly count: number;
  private arenas: { param: Arena; grad?: Arena; m?: Arena; v?: Arena };

  constructor(
    readonly rt: Runtime,
    specs: ParamSpec[],
  ) {
    const align = Math.max(64, rt.limits.minStorageBufferOffsetAlignment / 4);
    const mats = specs.filter((s) => s.shape.length >= 2);
    const vecs = specs.filter((s) => s.shape.length < 2);
    this.order = [...mats, ...vecs];
    let off = 0;
    let decay = 0;
    let count = 0;
    for (const s of this.order) {
      if (s === vecs[0]) decay = off;
      this.offsets.set(s.name, off);
      const n = s.shape.reduce((p, d) => p * d, 1);
      count += n;
      off += Math.ceil(n / align) * align;
    }
    this.decayFloats = vecs.length ? decay : off;
    this.totalFloats = off;
    this.count = count;
    const bytes = off * 4;
    if (bytes > rt.limits.maxBufferSize) {
      throw new EngineError(
        `parameters need ${bytes} bytes, over this adapter's maxBufferSize ${rt.limits.maxBufferSize}`,
      );
    }
    this.arenas = { param: this.arena('params') };
    for (const s of this.order) this.params.set(s.name, this.viewOf(this.arenas.param, s));
  }

  private arena(label: string): Arena {
    const buffer = this.rt.gpu.createBuffer({
      size: this.totalFloats * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      label: `arena:${label}`,
    });
    const storage = new Storage(this.rt, buffer, false);
    const flat = new Tensor(this.rt, storage, [this.totalFloats], 'f32', 0, `arena:${label}`).keep();
    fill0(flat);
    return { buffer, storage, flat };
  }

  private viewOf(a: Arena, s: ParamSpec, prefix = ''): Tensor {
    return new Tensor(this.rt, a.storage, s.shape, 'f32', this.offsets.get(s.name)! * 4, prefix + s.name).keep();
  }

  get(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new EngineError(`no parameter named ${name}`);
    return t;
  }

  get flatParams(): Tensor {
    return this.arenas.param.flat;
  }

  /** Make every parameter require grad, with `.grad` a view of the gradient arena. */
  enableGrad(): void {
    if (this.arenas.grad) return;
    const g = (this.arenas.grad = this.arena('grads'));
    for (const s of this.order) {
      const p = this.get(s.name);
      p.requiresGrad = true;
      p.grad = this.viewOf(g, s, 'grad:');
    }
  }

  get flatGrads(): Tensor {
    if (!this.arenas.grad) throw new EngineError('gradients not enabled');
    return this.arenas.grad.flat;
  }

  /** AdamW moments (allocated and zeroed on first use). */
  moments(): { m: Tensor; v: Tensor } {
    this.arenas.m ??= this.arena('adam_m');
    this.arenas.v ??= this.arena('adam_v');
    return { m: this.arenas.m.flat, v: this.arenas.v.flat };
  }

  zeroGrads(): void {
    if (this.arenas.grad) fill0(this.arenas.grad.flat);
  }

  /** A sub-range [start, end) in floats of an arena tensor as a flat view. */
  range(flat: Tensor, start: number, end: number): Tensor {
    return new Tensor(this.rt, flat.storage, [end - start], 'f32', start * 4, `${flat.label}[${start}:${end}]`);
  }

  /** Host copy of a named slice of an arena (parameter values, or optimizer moments for checkpoints). */
  async readArena(which: 'param' | 'm' | 'v'): Promise<Float32Array> {
    const a = which === 'param' ? this.arenas.param : which === 'm' ? this.arenas.m : this.arenas.v;
    if (!a) throw new EngineError(`arena ${which} not allocated`);
    return (await a.flat.read()) as Float32Array;
  }

  writeArena(which: 'param' | 'm' | 'v', data: Float32Array): void {
    if (which !== 'param') this.moments();
    const a = which === 'param' ? this.arenas.param : which === 'm' ? this.arenas.m! : this.arenas.v!;
    a.flat.write(data);
  }

  dispose(): void {
    for (const a of Object.values(this.arenas)) {
      if (!a) continue;
      a.flat.dispose();
      this.rt.destroyAfterWork(a.buffer);
    }
    for (const t of this.params.values()) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}
