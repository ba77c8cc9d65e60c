// The GPU runtime under every op: pipeline cache, command batching, uniforms, readback, scopes.
// - One open command encoder + compute pass; dispatches append. Flush (one submit) happens at a
//   readback, at an explicit flush(), or every `maxDispatchesPerFlush` dispatches.
// - Per-dispatch uniforms are bump-allocated (256-byte aligned) in one CPU staging area and written
//   with one queue.writeBuffer just before the submit that uses them.
// - Objects used by in-flight work (bind groups, staging buffers) are kept referenced until the
//   queue reports the work done: Dawn-node segfaults if they are garbage-collected earlier.
// - The adapter's facts (engine/adapter.ts) and the kernel-variant overrides the device was opened
//   with travel here, so kernels read them from the runtime they launch on.
// It knows nothing about particular ops; kernels/ launch through `run()`.
import { BufferPool } from './pool.ts';
import { DeviceError, EngineError } from './errors.ts';
import { effectiveLimits, type Limits } from './limits.ts';
import { waitGpu } from './wait.ts';
import {
  UNKNOWN_ADAPTER,
  adapterFacts,
  type AdapterDescription,
  type AdapterFacts,
  type KernelChoices,
} from './adapter.ts';
import type { Tensor } from './tensor.ts';

const UNIFORM_ALIGN = 256;
const UNIFORM_BYTES = 1 << 20;

export type Overrides = Record<string, number | boolean>;

/**
 * A WGSL shader as its generated module (`x.wgsl` -> `x.wgsl.ts`, scripts/wgsl-modules.mjs)
 * exports it: `// #include`d files are already appended to `code`, each starting at line `start`,
 * so compile errors map back to the .wgsl file and line. No file is read at run time.
 */
export interface WgslSource {
  /** Path from the package root, e.g. `kernels/matmul/matmul.wgsl`. */
  readonly file: string;
  readonly code: string;
  readonly includes: readonly { readonly start: number; readonly file: string }[];
}

export interface Kernel {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

/** A storage binding: a tensor (its view of its buffer) or a raw buffer range. */
export type Binding = Tensor | { buffer: GPUBuffer; offset?: number; size?: number };

export interface RunArgs {
  /** Bytes for `@group(0) @binding(0) var<uniform>`; omit when the entry point has none. */
  uniforms?: ArrayBuffer | ArrayBufferView;
  /** Storage buffers for @binding(1), @binding(2), ... in order (every one must be used). */
  bindings: Binding[];
  /** Workgroup counts; fold large 1-D grids with `grid1d`. */
  grid: readonly [number, number?, number?];
}

export interface RuntimeStats {
  dispatches: number;
  submits: number;
  readbacks: number;
  pipelines: number;
}

type Scope = Set<Tensor>;

export class Runtime {
  readonly pool: BufferPool;
  readonly stats: RuntimeStats = { dispatches: 0, submits: 0, readbacks: 0, pipelines: 0 };
  /** Flush after this many dispatches even without a sync point (bounds uniform + pending memory). */
  maxDispatchesPerFlush = 2048;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatchesInBatch = 0;
  private uniformCpu = new Uint8Array(UNIFORM_BYTES);
  private uniformGpu: GPUBuffer;
  private uniformOffset = 0;
  private keepAlive: unknown[] = [];
  private toDestroy: GPUBuffer[] = [];
  private modules = new Map<string, GPUShaderModule>();
  private kernels = new Map<string, Kernel>();
  private fatal: Error | null = null;
  private compileFailed = false;
  /** Pending error-scope checks of new pipelines; sync() waits for them. */
  private compileChecks = new Set<Promise<void>>();
  private scopes: Scope[] = [];
  private readPool: GPUBuffer[] = [];

  /** Hook set by kernels/: dst += src (gradient accumulation). The engine has no ops of its own. */
  accumulate: ((dst: Tensor, src: Tensor) => void) | null = null;
  /** Hook set by kernels/: a + b as a new tensor. */
  add: ((a: Tensor, b: Tensor) => Tensor) | null = null;

  private factsCache: AdapterFacts | null = null;
  readonly limits: Limits;
  /**
   * Free host memory in bytes, where the platform can tell (Node: os.freemem, set by openDevice; a
   * browser tab cannot). On a CPU adapter the host's memory is the device's: plans check it.
   */
  hostFreeBytes: (() => number) | null = null;

  constructor(
    readonly gpu: GPUDevice,
    /** The adapter as Dawn described it; prefer `facts`. */
    readonly adapter: AdapterDescription = UNKNOWN_ADAPTER,
    /** Kernel-variant overrides (op -> variant) the device was opened with; kernels/variants.ts applies them. */
    readonly kernelChoices: KernelChoices = {},
    /** The limits ops plan with: the adapter's, or lower ones (engine/limits.ts). */
    limits?: Limits,
  ) {
    this.limits = limits ?? effectiveLimits(gpu.limits);
    this.pool = new BufferPool(gpu, (bytes, label, check) => {
      void check.then((err) => {
        if (err) {
          this.pool.trim();
          this.setFatal(
            new DeviceError(
              `out of GPU memory allocating ${(bytes / 2 ** 20).toFixed(1)} MiB for ${label}: ` +
                'use a smaller batch (local_batch_size) or sequence length',
              'out-of-memory',
            ),
          );
        }
      });
    });
    this.uniformGpu = gpu.createBuffer({
      size: UNIFORM_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'uniforms',
    });
  }

  /** The adapter's facts, computed once (on first use, so the effective limits are settled). */
  get facts(): AdapterFacts {
    this.factsCache ??= adapterFacts(this.adapter, new Set(this.gpu.features), this.limits);
    return this.factsCache;
  }

  protected setFatal(e: Error): void {
    this.fatal ??= e;
  }

  /** Throws the first asynchronous GPU error (validation, OOM, loss) seen so far. */
  checkFatal(): void {
    if (this.fatal) throw this.fatal;
  }

  // ---- pipelines ------------------------------------------------------------------------------

  /** A compute pipeline for `entry` in the WGSL shader `src`, specialised by `overrides`. */
  kernel(src: WgslSource, entry: string, overrides: Overrides = {}): Kernel {
    const okeys = Object.keys(overrides).sort();
    const key = `${src.file}#${entry}{${okeys.map((k) => `${k}=${overrides[k]}`).join(',')}}`;
    const hit = this.kernels.get(key);
    if (hit) return hit;
    const name = src.file.split('/').slice(-1)[0];
    const label = `${entry}[${okeys.map((k) => `${k}=${overrides[k]}`).join(',')}]`;
    const constants: Record<string, number> = {};
    for (const k of okeys) constants[k] = Number(overrides[k]);
    // One scope around module and pipeline: a WGSL syntax or type error surfaces at the module,
    // and reporting it here (not as an uncaptured error) maps its lines back to the .wgsl files.
    this.gpu.pushErrorScope('validation');
    let module = this.modules.get(src.file);
    if (!module) {
      module = this.gpu.createShaderModule({ code: src.code, label: name });
      this.modules.set(src.file, module);
    }
    const pipeline = this.gpu.createComputePipeline({
      label,
      layout: 'auto',
      compute: { module, entryPoint: entry, constants },
    });
    const layout = pipeline.getBindGroupLayout(0);
    const mod = module;
    const check = this.gpu
      .popErrorScope()
      .then(async (err) => {
        if (!err) return;
        const info = await mod.getCompilationInfo();
        const lines = info.messages.map((m) => `  ${sourceLine(src, m.lineNum)}:${m.linePos} ${m.type}: ${m.message}`);
        // The cause outranks its consequences: a dispatch of this pipeline may already have raised
        // an uncaptured "invalid due to a previous error", which would otherwise be all you see.
        if (!this.compileFailed) this.fatal = null;
        this.compileFailed = true;
        this.setFatal(
          new DeviceError(`pipeline ${label} in ${src.file} failed: ${err.message}\n${lines.join('\n')}`, 'validation'),
        );
      })
      .catch((e: Error) => this.setFatal(e));
    this.compileChecks.add(check);
    void check.finally(() => this.compileChecks.delete(check));
    const kernel: Kernel = { label, pipeline, layout };
    this.kernels.set(key, kernel);
    this.stats.pipelines++;
    return kernel;
  }

  // ---- dispatch -------------------------------------------------------------------------------

  run(k: Kernel, args: RunArgs): void {
    if (this.fatal) throw this.fatal;
    const entries: GPUBindGroupEntry[] = [];
    if (args.uniforms) {
      const bytes =
        args.uniforms instanceof ArrayBuffer
          ? new Uint8Array(args.uniforms)
          : new Uint8Array(args.uniforms.buffer, args.uniforms.byteOffset, args.uniforms.byteLength);
      // Bind the whole 256-byte-aligned slot: WGSL structs may declare more fields than a launcher
      // fills (the rest read as zeros or stale values the entry point ignores).
      const slot = Math.ceil(Math.max(bytes.byteLength, 16) / UNIFORM_ALIGN) * UNIFORM_ALIGN;
      if (this.uniformOffset + slot > UNIFORM_BYTES) this.flush();
      this.uniformCpu.fill(0, this.uniformOffset, this.uniformOffset + slot);
      this.uniformCpu.set(bytes, this.uniformOffset);
      entries.push({ binding: 0, resource: { buffer: this.uniformGpu, offset: this.uniformOffset, size: slot } });
      this.uniformOffset += slot;
    }
    const maxBinding = this.limits.maxStorageBufferBindingSize;
    args.bindings.forEach((b, i) => {
      const resource = bindingResource(b);
      const size = resource.size ?? resource.buffer.size - (resource.offset ?? 0);
      if (size > maxBinding) {
        // Ours to catch, never Dawn's: an op that can meet big operands splits them before this.
        const what = 'storage' in b ? `${b}` : `a buffer range of ${size} bytes`;
        throw new EngineError(
          `${k.label}: binding ${i + 1} (${what}, ${size} bytes) is over maxStorageBufferBindingSize ${maxBinding}`,
        );
      }
      entries.push({ binding: i + 1, resource });
    });
    const group = this.gpu.createBindGroup({ layout: k.layout, entries, label: k.label });
    const profiled = !!this.profiler && this.profiler.labels.length < this.profiler.capacity;
    const pass = profiled ? this.profiledPass(k.label) : this.openPass();
    pass.setPipeline(k.pipeline);
    pass.setBindGroup(0, group);
    const [x, y = 1, z = 1] = args.grid;
    const maxDim = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxDim || y > maxDim || z > maxDim) {
      throw new DeviceError(`${k.label}: grid ${x}x${y}x${z} exceeds maxComputeWorkgroupsPerDimension ${maxDim}`);
    }
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    if (profiled) {
      pass.end();
      this.pass = null;
    }
    this.keepAlive.push(group);
    this.stats.dispatches++;
    if (++this.dispatchesInBatch >= this.maxDispatchesPerFlush) this.flush();
  }

  /** Encoder for non-compute commands (copies, clears); ends the open compute pass. */
  commandEncoder(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    this.encoder ??= this.gpu.createCommandEncoder({ label: 'batch' });
    return this.encoder;
  }

  // ---- profiling (timestamp queries, one pass per dispatch) ------------------------------------

  private profiler: {
    set: GPUQuerySet;
    resolve: GPUBuffer;
    labels: string[];
    capacity: number;
    times: Map<string, number>;
  } | null = null;

  /**
   * Start timing every dispatch with timestamp queries (needs the 'timestamp-query' feature): each
   * dispatch gets a pass of its own, so call collectProfile() at least every `capacity` dispatches
   * (later ones run untimed).
   */
  startProfile(capacity = 2048): void {
    if (!this.gpu.features.has('timestamp-query')) throw new DeviceError('this adapter has no timestamp-query feature');
    this.flush();
    this.profiler = {
      set: this.gpu.createQuerySet({ type: 'timestamp', count: capacity * 2, label: 'profile' }),
      resolve: this.gpu.createBuffer({
        size: capacity * 16,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
        label: 'profile',
      }),
      labels: [],
      capacity,
      times: new Map(),
    };
  }

  private profiledPass(label: string): GPUComputePassEncoder {
    const p = this.profiler!;
    const i = p.labels.length;
    p.labels.push(label);
    if (this.pass) this.pass.end();
    this.pass = this.commandEncoder().beginComputePass({
      label,
      timestampWrites: { querySet: p.set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
    });
    return this.pass;
  }

  /** Read the timestamps gathered since the last collect: GPU ms per kernel label. */
  async collectProfile(): Promise<Map<string, number>> {
    const p = this.profiler;
    if (!p) return new Map();
    if (p.labels.length) {
      const n = p.labels.length;
      this.commandEncoder().resolveQuerySet(p.set, 0, 2 * n, p.resolve, 0);
      const bytes = await this.readBytes(p.resolve, 0, 16 * n);
      const t = new BigInt64Array(bytes);
      p.labels.forEach((label, i) => {
        const ms = Number(t[2 * i + 1] - t[2 * i]) / 1e6;
        p.times.set(label, (p.times.get(label) ?? 0) + Math.max(0, ms));
      });
      p.labels = [];
    }
    return p.times;
  }

  async stopProfile(): Promise<Map<string, number>> {
    const times = await this.collectProfile();
    const p = this.profiler;
    this.profiler = null;
    if (p) {
      this.destroyAfterWork(p.resolve);
      p.set.destroy();
    }
    return times;
  }

  private openPass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.commandEncoder().beginComputePass({ label: 'batch' });
    return this.pass;
  }

  get hasPendingWork(): boolean {
    return this.encoder !== null;
  }

  /** Submit everything encoded so far (one submit). */
  flush(): void {
    if (!this.encoder) return;
    const enc = this.commandEncoder();
    this.encoder = null;
    if (this.uniformOffset > 0) this.gpu.queue.writeBuffer(this.uniformGpu, 0, this.uniformCpu, 0, this.uniformOffset);
    this.gpu.queue.submit([enc.finish()]);
    this.stats.submits++;
    this.uniformOffset = 0;
    this.dispatchesInBatch = 0;
    this.pool.afterSubmit();
    const alive = this.keepAlive;
    const destroy = this.toDestroy;
    this.keepAlive = [];
    this.toDestroy = [];
    void this.gpu.queue.onSubmittedWorkDone().then(() => {
      for (const b of destroy) b.destroy();
      alive.length = 0;
    });
  }

  /** Wait until all submitted work is done; throws the first GPU error. A named sync point. */
  async sync(): Promise<void> {
    this.flush();
    await waitGpu(this.gpu.queue.onSubmittedWorkDone());
    await Promise.all(this.compileChecks);
    this.checkFatal();
  }

  /** Destroy `buf` once the work encoded so far has completed. */
  destroyAfterWork(buf: GPUBuffer): void {
    if (this.encoder) this.toDestroy.push(buf);
    else buf.destroy();
  }

  /** Copy bytes [offset, offset+size) of a buffer to the host. A sync point. */
  async readBytes(buffer: GPUBuffer, offset: number, size: number): Promise<ArrayBuffer> {
    const padded = Math.ceil(size / 4) * 4;
    let staging = this.readPool.find((b) => b.size >= padded && b.mapState === 'unmapped');
    if (staging) this.readPool.splice(this.readPool.indexOf(staging), 1);
    else
      staging = this.gpu.createBuffer({
        size: Math.max(256, 2 ** Math.ceil(Math.log2(padded))),
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        label: 'readback',
      });
    this.commandEncoder().copyBufferToBuffer(buffer, offset, staging, 0, padded);
    this.flush();
    this.stats.readbacks++;
    try {
      await waitGpu(staging.mapAsync(GPUMapMode.READ, 0, padded));
    } catch (e) {
      this.checkFatal();
      throw new DeviceError(`readback failed: ${(e as Error).message}`);
    }
    const out = staging.getMappedRange(0, padded).slice(0, size);
    staging.unmap();
    this.readPool.push(staging);
    this.checkFatal();
    return out;
  }

  /** Copy host bytes into a buffer range, ordered after all work encoded so far. */
  writeBytes(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    const size = Math.ceil(data.byteLength / 4) * 4;
    const staging = this.gpu.createBuffer({
      size,
      usage: GPUBufferUsage.COPY_SRC,
      mappedAtCreation: true,
      label: 'upload',
    });
    new Uint8Array(staging.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    staging.unmap();
    this.commandEncoder().copyBufferToBuffer(staging, 0, buffer, offset, size);
    this.toDestroy.push(staging);
  }

  // ---- scopes ---------------------------------------------------------------------------------

  /** Register a new tensor with the innermost scope (if any). */
  track(t: Tensor): void {
    this.scopes[this.scopes.length - 1]?.add(t);
  }
  /** Remove a tensor from scope tracking (it will outlive the scope). */
  untrack(t: Tensor): void {
    for (const s of this.scopes) s.delete(t);
  }

  /**
   * Run `fn` in a scope: every tensor created inside and not returned (or `keep`-ed) is disposed
   * when it ends. Returned tensors (also inside arrays/objects, one level deep) move to the outer
   * scope. GPU memory never waits for the garbage collector.
   */
  async scope<T>(fn: () => Promise<T> | T): Promise<T> {
    return this.inScope(fn);
  }

  /** Synchronous scope for code that does not await. */
  tidy<T>(fn: () => T): T {
    return this.inScope(fn);
  }

  /** The one body of scope() and tidy(): a scope ends when `fn` returns, or when its promise settles. */
  private inScope<T>(fn: () => T): T {
    const s: Scope = new Set();
    this.scopes.push(s);
    const leave = () => void this.scopes.splice(this.scopes.lastIndexOf(s), 1);
    const close = (result: unknown) => {
      leave();
      const keep = collectTensors(result);
      for (const t of s) {
        if (keep.has(t)) this.track(t);
        else t.dispose();
      }
      return result;
    };
    let result: T;
    try {
      result = fn();
    } catch (e) {
      leave();
      throw e;
    }
    if (result instanceof Promise) {
      return result.then(close, (e: unknown) => {
        leave();
        throw e;
      }) as T;
    }
    return close(result) as T;
  }

  protected releaseAll(): void {
    this.pool.trim();
    for (const b of this.readPool) b.destroy();
    this.readPool = [];
    this.uniformGpu.destroy();
  }
}

/** `file:line` in the .wgsl files for a line of the expanded source (includes are appended). */
export function sourceLine(src: WgslSource, lineNum: number): string {
  for (let i = src.includes.length - 1; i >= 0; i--) {
    const inc = src.includes[i];
    if (lineNum >= inc.start) return `${inc.file}:${lineNum - inc.start + 1}`;
  }
  return `${src.file}:${lineNum}`;
}

function bindingResource(b: Binding): GPUBufferBinding {
  if ('storage' in b) return b.binding();
  return { buffer: b.buffer, offset: b.offset ?? 0, size: b.size };
}

function collectTensors(x: unknown): Set<Tensor> {
  const out = new Set<Tensor>();
  const visit = (v: unknown, depth: number) => {
    if (!v || typeof v !== 'object' || depth > 2) return;
    if ((v as { isTensor?: boolean }).isTensor) out.add(v as Tensor);
    else if (Array.isArray(v)) v.forEach((e) => visit(e, depth + 1));
    else if (Object.getPrototypeOf(v) === Object.prototype) Object.values(v).forEach((e) => visit(e, depth + 1));
  };
  visit(x, 0);
  return out;
}

/** Fold a 1-D count of workgroups into (x, y) under the per-dimension limit. */
export function grid1d(workgroups: number, maxPerDim = 65535): [number, number] {
  if (workgroups <= maxPerDim) return [Math.max(workgroups, 1), 1];
  const y = Math.ceil(workgroups / maxPerDim);
  return [Math.ceil(workgroups / y), y];
}
