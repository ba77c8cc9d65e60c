// The PyTorch CPU peer of `dllm-wgpu bench train`: one long-lived python3 process
// (bench/pytorch-step.py) asked for one training step at a time, so its repetitions alternate with
// ours. It first says which BLAS torch really runs on (the libraries mapped into the process) and
// torch's own fp32 matmul rate at 1024^3: Debian's python3-torch runs on the reference BLAS
// (package libblas3) unless an optimised one is installed, and a run on the reference BLAS is not
// a peer (20x slower than on OpenBLAS for the llada-tiny step), so it gets no ratio.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const TORCH_INSTALL = 'Debian/Ubuntu: apt-get install python3-torch libopenblas0-pthread';

export interface BlasInfo {
  /** Human name: "OpenBLAS 0.3.21 (openblas-pthread, core SkylakeX, 2 threads)", "reference BLAS (...)". */
  name: string;
  /** False for the reference (netlib) BLAS: not a peer. */
  optimised: boolean;
}

export interface TorchInfo {
  torch: string;
  threads: number;
  blas: { libs: string[]; build?: string; openblas?: { core: string; config: string; threads: number } };
  gflops_1024: number;
}

/**
 * Which BLAS serves torch's sgemm, from the shared objects mapped into its process. Debian-style
 * systems resolve torch's libblas.so.3 through the alternatives system: that file's folder names
 * the implementation (openblas-*, blis-*, atlas; "blas" is the reference, package libblas3). Where
 * no libblas.so is mapped, torch links a BLAS directly (pip wheels: MKL), named by its library or
 * by torch's build string.
 */
export function classifyBlas(info: Pick<TorchInfo, 'blas'>): BlasInfo {
  const { libs, openblas, build } = info.blas;
  const ob = openblas ? ` (core ${openblas.core}, ${openblas.threads} threads)` : '';
  const obName = (openblas?.config.match(/OpenBLAS [\d.]+/)?.[0] ?? 'OpenBLAS') + ob;
  const kind = (p: string): BlasInfo | undefined => {
    const l = p.toLowerCase();
    if (l.includes('openblas')) return { name: `${obName}: ${p}`, optimised: true };
    if (l.includes('blis')) return { name: `BLIS: ${p}`, optimised: true };
    if (l.includes('mkl')) return { name: `MKL: ${p}`, optimised: true };
    if (l.includes('atlas')) return { name: `ATLAS: ${p}`, optimised: true };
    return undefined;
  };
  const libblas = libs.find((p) => /\/libblas\.so/.test(p));
  if (libblas) return kind(libblas) ?? { name: `reference BLAS: ${libblas}`, optimised: false };
  for (const p of libs) {
    const k = kind(p);
    if (k) return k;
  }
  const built = build?.match(/BLAS_INFO=(\w+)/)?.[1];
  if (built === 'mkl') return { name: 'MKL (linked into torch)', optimised: true };
  return { name: `unknown (no BLAS library mapped; torch BLAS_INFO=${built ?? '?'})`, optimised: true };
}

/** A running peer process; every call is one request and one JSON reply line. */
export class TorchPeer {
  private constructor(
    private proc: ChildProcessWithoutNullStreams,
    private lines: AsyncIterator<string>,
    private stderr: () => string,
    readonly info: TorchInfo,
    readonly blas: BlasInfo,
  ) {}

  /** Starts the peer, or returns why there is none (no python3 with torch, a crash). */
  static async start(log: (s: string) => void): Promise<TorchPeer | { skipped: string }> {
    const script = fileURLToPath(new URL('./pytorch-step.py', import.meta.url));
    // OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when some other Python's set-up exports them, pin
    // OpenBLAS to slower kernels: the peer gets OpenBLAS's own detection.
    const env = { ...process.env };
    const unset = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'].filter((k) => k in env);
    for (const k of unset) delete env[k];
    for (const py of ['python3', '/usr/bin/python3']) {
      const probe = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8', env, timeout: 120_000 });
      if (probe.error || probe.status !== 0) continue;
      const proc = spawn(py, [script], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
      try {
        const tail = () => stderr;
        const info = (await request(proc, lines, { cmd: 'info' }, tail)) as unknown as TorchInfo;
        const peer = new TorchPeer(proc, lines, tail, info, classifyBlas(info));
        if (unset.length) log(`pytorch peer: ${unset.join(', ')} unset for it (OpenBLAS picks its own kernels)`);
        return peer;
      } catch (e) {
        proc.kill();
        return { skipped: `failed: ${(e as Error).message}` };
      }
    }
    return { skipped: `no python3 with torch on this machine (${TORCH_INSTALL})` };
  }

  /** One line for logs and the peer's note: torch, threads, BLAS, 1024^3 rate. */
  describe(): string {
    return `torch ${this.info.torch}, ${this.info.threads} threads, BLAS ${this.blas.name}, matmul 1024^3 ${this.info.gflops_1024.toFixed(1)} GFLOP/s`;
  }

  async build(shape: Record<string, number | string>): Promise<void> {
    await request(this.proc, this.lines, { cmd: 'build', ...shape }, this.stderr);
  }

  /** One timed training step; its wall time as the peer measured it. */
  async step(): Promise<number> {
    return (await request(this.proc, this.lines, { cmd: 'step' }, this.stderr)).ms as number;
  }

  /** op(A) @ op(B) in the engine's storage layouts, `calls` products back to back: ms per product. */
  async matmul(M: number, K: number, N: number, transA: boolean, transB: boolean, calls = 10): Promise<number> {
    const r = await request(
      this.proc,
      this.lines,
      { cmd: 'matmul', M, K, N, trans_a: transA, trans_b: transB, calls },
      this.stderr,
    );
    return r.ms as number;
  }

  close(): void {
    this.proc.stdin.end(JSON.stringify({ cmd: 'quit' }) + '\n');
    setTimeout(() => this.proc.kill(), 5000).unref();
  }
}

async function request(
  proc: ChildProcessWithoutNullStreams,
  lines: AsyncIterator<string>,
  req: Record<string, unknown>,
  stderr: () => string,
): Promise<Record<string, unknown>> {
  proc.stdin.write(JSON.stringify(req) + '\n');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`no reply to ${String(req.cmd)} within 10 minutes`)), 600_000);
  });
  try {
    const r = await Promise.race([lines.next(), timeout]);
    if (r.done) {
      const why = stderr().trim().split('\n').slice(-1)[0] || `exited with ${proc.exitCode}`;
      throw new Error(why);
    }
    return JSON.parse(r.value) as Record<string, unknown>;
  } finally {
    clearTimeout(timer);
  }
}
