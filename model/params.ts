// Parameter storage. Every parameter carries a dtype:
// - f32 parameters (trainable) live in arenas: the parameters, their gradients and the two AdamW
//   moments are each a few large GPU buffers ("chunks") holding views aligned to
//   minStorageBufferOffsetAlignment. Zeroing the gradients is one clearBuffer per chunk and AdamW
//   one dispatch per chunk and weight-decay group. A chunk never exceeds maxBufferSize nor
//   maxStorageBufferBindingSize (AdamW binds a chunk range whole), so a model of any size gets as
//   many chunks as it needs; a single tensor over the binding limit gets a chunk of its own.
//   Within the arena, 2-D matrices (weight-decayed) come first, then 1-D norm weights (not
//   decayed), so each group is one contiguous range of every chunk. Offsets are global float
//   indices across the chunks, so host copies (checkpoints, initialisation) are one flat array.
// - bf16/f16 parameters (LLaDA ships bf16) are frozen storage: one buffer per tensor holding the
//   raw 16-bit values (kernels decode them to f32 as they read), no gradient, no AdamW moments.
//   Full fine-tuning therefore keeps f32 weights; 16-bit storage serves inference and, later, a
//   frozen base under LoRA. enableGrad() refuses a store that holds any.
// Deliberately not here: initialisation (init.ts), file formats (io.ts).
import type { Runtime } from '../engine/runtime.ts';
import { Storage, Tensor, bytesFor, fill0, type DType } from '../engine/tensor.ts';
import { EngineError } from '../engine/errors.ts';

export type ParamDType = 'f32' | 'bf16' | 'f16';

export interface ParamSpec {
  name: string;
  shape: number[];
  /** Storage type (default f32). */
  dtype?: ParamDType;
}

interface Chunk {
  /** Global float range [start, end) of the arena this chunk holds. */
  start: number;
  end: number;
  /** End of the decayed (matrix) group inside this chunk, clamped to [start, end]. */
  decayEnd: number;
}

type ArenaKind = 'param' | 'grad' | 'm' | 'v';

/** One piece of the optimizer's work: views of parameters, gradients and moments over one range. */
export interface OptimizerRange {
  p: Tensor;
  g: Tensor;
  m: Tensor;
  v: Tensor;
  decay: boolean;
}

export class ParamStore {
  readonly params = new Map<string, Tensor>();
  readonly order: ParamSpec[];
  /** Global float offsets of the f32 (arena) parameters. */
  readonly offsets = new Map<string, number>();
  /** Floats in the decayed (matrix) group of the arena; the rest is the 1-D group. */
  readonly decayFloats: number;
  /** Floats in the arena (f32 parameters, with alignment padding). */
  readonly totalFloats: number;
  /** Parameter elements, all dtypes. */
  readonly count: number;
  readonly chunks: Chunk[] = [];
  private arenas = new Map<ArenaKind, Tensor[]>(); // one flat tensor per chunk
  private ownBuffers: GPUBuffer[] = [];

  /** `maxChunkBytes`: a lower chunk limit than the adapter's (tests exercise several chunks on tiny models). */
  constructor(
    readonly rt: Runtime,
    specs: ParamSpec[],
    opts: { maxChunkBytes?: number } = {},
  ) {
    const lim = rt.limits; // effective limits (DLLM_WGPU_LIMITS may lower them)
    const align = Math.max(64, lim.minStorageBufferOffsetAlignment / 4);
    const maxBytes = Math.min(lim.maxBufferSize, lim.maxStorageBufferBindingSize, opts.maxChunkBytes ?? Infinity);
    const maxChunkFloats = Math.floor(maxBytes / 4 / align) * align;
    const mats = specs.filter((s) => s.shape.length >= 2);
    const vecs = specs.filter((s) => s.shape.length < 2);
    this.order = [...mats, ...vecs];
    let off = 0;
    let decay = -1;
    let count = 0;
    let chunkStart = 0;
    for (const s of this.order) {
      const n = s.shape.reduce((p, d) => p * d, 1);
      count += n;
      if ((s.dtype ?? 'f32') !== 'f32') continue;
      if (decay < 0 && s.shape.length < 2) decay = off;
      const padded = Math.ceil(n / align) * align;
      if (off > chunkStart && off + padded - chunkStart > maxChunkFloats) {
        this.chunks.push({ start: chunkStart, end: off, decayEnd: 0 });
        chunkStart = off;
      }
      this.offsets.set(s.name, off);
      off += padded;
    }
    if (off > chunkStart) this.chunks.push({ start: chunkStart, end: off, decayEnd: 0 });
    this.decayFloats = decay < 0 ? off : decay;
    this.totalFloats = off;
    this.count = count;
    for (const c of this.chunks) c.decayEnd = Math.min(Math.max(this.decayFloats, c.start), c.end);
    const flats = this.arena('param');
    for (const s of this.order) {
      const dtype = s.dtype ?? 'f32';
      if (dtype === 'f32') this.params.set(s.name, this.viewOf(flats, s));
      else this.params.set(s.name, this.ownTensor(s, dtype));
    }
  }

  /** The chunk index holding global float offset `off`. */
  private chunkOf(off: number): number {
    return this.chunks.findIndex((c) => off >= c.start && off < c.end);
  }

  private arena(kind: ArenaKind): Tensor[] {
    let flats = this.arenas.get(kind);
    if (flats) return flats;
    flats = this.chunks.map((c, i) => {
      const label = `arena:${kind}${this.chunks.length > 1 ? `.${i}` : ''}`;
      const buffer = this.createBuffer((c.end - c.start) * 4, label);
      const flat = new Tensor(this.rt, new Storage(this.rt, buffer, false), [c.end - c.start], 'f32', 0, label).keep();
      fill0(flat);
      return flat;
    });
    this.arenas.set(kind, flats);
    return flats;
  }

  private createBuffer(bytes: number, label: string): GPUBuffer {
    const max = this.rt.limits.maxBufferSize;
    if (bytes > max) {
      throw new EngineError(`${label} needs ${bytes} bytes, over this adapter's maxBufferSize ${max}`);
    }
    const buffer = this.rt.gpu.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      label,
    });
    this.ownBuffers.push(buffer);
    return buffer;
  }

  /** A 16-bit parameter's own buffer, rounded up to 16 bytes (kernels read B operands as vec4 groups). */
  private ownTensor(s: ParamSpec, dtype: DType): Tensor {
    const n = s.shape.reduce((p, d) => p * d, 1);
    const bytes = Math.max(16, Math.ceil(bytesFor(dtype, n) / 16) * 16);
    const buffer = this.createBuffer(bytes, `param:${s.name}`);
    return new Tensor(this.rt, new Storage(this.rt, buffer, false), s.shape, dtype, 0, s.name).keep();
  }

  private viewOf(flats: Tensor[], s: ParamSpec, prefix = ''): Tensor {
    const off = this.offsets.get(s.name)!;
    const k = this.chunkOf(off);
    const byteOffset = (off - this.chunks[k].start) * 4;
    return new Tensor(this.rt, flats[k].storage, s.shape, 'f32', byteOffset, prefix + s.name).keep();
  }

  get(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new EngineError(`no parameter named ${name}`);
    return t;
  }

  dtypeOf(name: string): ParamDType {
    return this.get(name).dtype as ParamDType;
  }

  /** Bytes of GPU memory the parameters take, and what gradients plus AdamW moments would add. */
  memory(): { paramBytes: number; trainingBytes: number } {
    let half = 0;
    for (const s of this.order) {
      const d = s.dtype ?? 'f32';
      if (d !== 'f32')
        half += bytesFor(
          d,
          s.shape.reduce((p, x) => p * x, 1),
        );
    }
    return { paramBytes: this.totalFloats * 4 + half, trainingBytes: 3 * this.totalFloats * 4 };
  }

  /** Make every parameter require grad, with `.grad` a view of the gradient arena. */
  enableGrad(): void {
    if (this.arenas.has('grad')) return;
    const frozen = this.order.find((s) => (s.dtype ?? 'f32') !== 'f32');
    if (frozen) {
      throw new EngineError(
        `cannot train ${frozen.name}: it is stored as ${frozen.dtype}; full fine-tuning needs f32 weights`,
      );
    }
    const g = this.arena('grad');
    for (const s of this.order) {
      const p = this.get(s.name);
      p.requiresGrad = true;
      p.grad = this.viewOf(g, s, 'grad:');
    }
  }

  /** The gradient arena's chunks, each as one flat tensor (for the global gradient norm). */
  gradChunks(): Tensor[] {
    const g = this.arenas.get('grad');
    if (!g) throw new EngineError('gradients not enabled');
    return g;
  }

  /**
   * Views for AdamW: one per chunk and weight-decay group, over parameters, gradients and the
   * moments (allocated and zeroed on first use). The caller disposes them.
   */
  optimizerRanges(): OptimizerRange[] {
    const [p, g, m, v] = (['param', 'grad', 'm', 'v'] as const).map((k) =>
      k === 'grad' ? this.gradChunks() : this.arena(k),
    );
    const out: OptimizerRange[] = [];
    this.chunks.forEach((c, i) => {
      const view = (flat: Tensor, a: number, b: number) =>
        new Tensor(this.rt, flat.storage, [b - a], 'f32', (a - c.start) * 4, `${flat.label}[${a}:${b}]`).keep();
      for (const [a, b, decay] of [
        [c.start, c.decayEnd, true],
        [c.decayEnd, c.end, false],
      ] as const) {
        if (b > a)
          out.push({ p: view(p[i], a, b), g: view(g[i], a, b), m: view(m[i], a, b), v: view(v[i], a, b), decay });
      }
    });
    return out;
  }

  zeroGrads(): void {
    for (const g of this.arenas.get('grad') ?? []) fill0(g);
  }

  /** Host copy of an arena (f32 parameter values, or optimizer moments for checkpoints), global offsets. */
  async readArena(which: 'param' | 'm' | 'v'): Promise<Float32Array> {
    const flats = this.arenas.get(which);
    if (!flats) throw new EngineError(`arena ${which} not allocated`);
    const out = new Float32Array(this.totalFloats);
    for (const [i, f] of flats.entries()) out.set(await f.read(), this.chunks[i].start);
    return out;
  }

  writeArena(which: 'param' | 'm' | 'v', data: Float32Array): void {
    if (data.length !== this.totalFloats) {
      throw new EngineError(`writeArena(${which}): ${data.length} floats for an arena of ${this.totalFloats}`);
    }
    this.arena(which).forEach((f, i) => f.write(data.subarray(this.chunks[i].start, this.chunks[i].end)));
  }

  dispose(): void {
    for (const flats of this.arenas.values()) for (const f of flats) f.dispose();
    for (const t of this.params.values()) {
      t.grad?.dispose();
      t.dispose();
    }
    for (const b of this.ownBuffers) this.rt.destroyAfterWork(b);
    this.arenas.clear();
    this.ownBuffers = [];
  }
}
