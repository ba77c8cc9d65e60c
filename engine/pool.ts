// Size-bucketed GPU buffer pool. Classes are 2^k and 1.5*2^k bytes (at most 33% slack), at least
// 256 bytes so every view meets minStorageBufferOffsetAlignment. Buffers released while commands
// that use them are still being encoded go to `pending` and become reusable only after submit
// (a queue.writeBuffer into a reused buffer must not overtake encoded work).
// It does not decide lifetimes: tensors (engine/tensor.ts) do.

const MIN_CLASS = 256;

export function sizeClass(bytes: number): number {
  if (bytes <= MIN_CLASS) return MIN_CLASS;
  const p = 2 ** Math.ceil(Math.log2(bytes));
  const threeQuarters = (p / 4) * 3;
  return bytes <= threeQuarters ? threeQuarters : p;
}

export interface PoolStats {
  /** Bytes of GPU buffers currently created by the pool. */
  allocatedBytes: number;
  /** Largest allocatedBytes seen. */
  highWaterBytes: number;
  /** Bytes handed out and not yet released. */
  inUseBytes: number;
  /** Number of createBuffer calls so far (a warm training step should add none). */
  creates: number;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  readonly stats: PoolStats = { allocatedBytes: 0, highWaterBytes: 0, inUseBytes: 0, creates: 0 };
  private readonly usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

  constructor(
    private readonly gpu: GPUDevice,
    private readonly onLargeAlloc: (bytes: number, label: string, check: Promise<GPUError | null>) => void,
  ) {}

  acquire(bytes: number, label: string): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    let buf = list?.pop();
    if (!buf) {
      const large = size >= 64 * 1024 * 1024;
      if (large) this.gpu.pushErrorScope('out-of-memory');
      buf = this.gpu.createBuffer({ size, usage: this.usage, label });
      if (large) this.onLargeAlloc(size, label, this.gpu.popErrorScope());
      this.stats.creates++;
      this.stats.allocatedBytes += size;
      this.stats.highWaterBytes = Math.max(this.stats.highWaterBytes, this.stats.allocatedBytes);
    }
    this.stats.inUseBytes += size;
    return buf;
  }

  /** Return a buffer; `busy` = commands using it are encoded but not yet submitted. */
  release(buf: GPUBuffer, busy: boolean): void {
    this.stats.inUseBytes -= buf.size;
    if (busy) this.pending.push(buf);
    else this.putFree(buf);
  }

  /** Called after a submit: pending buffers become reusable. */
  afterSubmit(): void {
    for (const b of this.pending) this.putFree(b);
    this.pending.length = 0;
  }

  /** Destroy idle buffers (on out-of-memory, or to shrink). */
  trim(): number {
    let freed = 0;
    for (const list of this.free.values()) {
      for (const b of list) {
        freed += b.size;
        b.destroy();
      }
      list.length = 0;
    }
    this.stats.allocatedBytes -= freed;
    return freed;
  }

  private putFree(buf: GPUBuffer): void {
    let list = this.free.get(buf.size);
    if (!list) this.free.set(buf.size, (list = []));
    list.push(buf);
  }
}
