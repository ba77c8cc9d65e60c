// Peers measured in the same run on the same adapter: TF.js's WebGPU backend (given Dawn's
// navigator.gpu) for matmul, attention written in TF.js ops (fwd and fwd+bwd through tf.grads) and
// softmax-cross-entropy; gpu.js for matmul (whatever mode it finds in Node: it reports it).
// Peers are optional dependencies: a missing one is reported as skipped, never a failure.
import { register } from 'node:module';
import { create } from 'webgpu';
import type { OursRep, PeerFigure } from './harness.ts';
import { median, rand } from './harness.ts';
import { waitGpu } from '../engine/wait.ts';

type Fig = Record<string, PeerFigure>;

/**
 * Each TF.js figure alternates its repetitions with `ours` (one timed repetition of our op).
 * Function-valued properties, not methods: loadPeers wraps them detached from the object.
 */
export interface Peers {
  matmul: (a: number[], b: number[], reps: number, flops: number, ours: OursRep) => Promise<Fig>;
  attention: (
    c: { B: number; T: number; H: number; D: number },
    reps: number,
    ours: { fwd: OursRep; fwdBwd: OursRep },
  ) => Promise<{ fwd: Fig; fwdBwd: Fig }>;
  xent: (rows: number, V: number, chunks: number, reps: number, ours: OursRep) => Promise<Fig>;
}

const TFJS = 'tfjs-webgpu';

/** Node module hooks (module.register, Node >= 20.6) for tfjs-core's ES module sources under dist/. */
const TFJS_HOOKS =
  'data:text/javascript,' +
  encodeURIComponent(`
const DIR = '/@tensorflow/tfjs-core/dist/';
export async function resolve(spec, ctx, next) {
  try {
    return await next(spec, ctx);
  } catch (e) {
    if (spec.startsWith('.') && ctx.parentURL?.includes(DIR)) return next(spec + '.js', ctx);
    throw e;
  }
}
export async function load(url, ctx, next) {
  const esm = url.includes(DIR) && !/\\/tf-core[^/]*\\.js$/.test(url);
  return next(url, esm ? { ...ctx, format: 'module' } : ctx);
}
`);

/** A TF.js tensor, as this file uses it: handed back to TF.js ops, and read to force the work. */
interface TfTensor {
  data(): Promise<unknown>;
}
type TfOut = TfTensor | TfTensor[];

/**
 * The part of @tensorflow/tfjs-core this file calls, typed here because the package is an optional
 * dependency (it may be absent, and with it its types). Signatures follow tfjs-core 4.x's API docs.
 */
interface TfApi {
  version_core: string;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  tensor(values: Float32Array | Int32Array, shape: number[], dtype?: 'int32'): TfTensor;
  dispose(t: TfOut): void;
  reshape(t: TfTensor, shape: number[]): TfTensor;
  slice(t: TfTensor, begin: number[], size: number[]): TfTensor;
  matMul(a: TfTensor, b: TfTensor, transposeA?: boolean, transposeB?: boolean): TfTensor;
  softmax(t: TfTensor): TfTensor;
  mul(a: TfTensor, b: number): TfTensor;
  sum(t: TfTensor): TfTensor;
  cast(t: TfTensor, dtype: 'float32'): TfTensor;
  oneHot(indices: TfTensor, depth: number): TfTensor;
  grad(f: (x: TfTensor) => TfTensor): (x: TfTensor) => TfTensor;
  grads(f: (...args: TfTensor[]) => TfTensor): (args: TfTensor[]) => TfTensor[];
  losses: {
    softmaxCrossEntropy(
      onehotLabels: TfTensor,
      logits: TfTensor,
      weights: undefined,
      labelSmoothing: number,
      reduction: number,
    ): TfTensor;
  };
  Reduction: { SUM: number };
}

/** `this` inside a gpu.js kernel function (gpu.js docs: "Creating and Running Functions"). */
interface GpuJsThis {
  constants: { K: number };
  thread: { x: number; y: number };
}
interface GpuJsKernel {
  (x: number[][], y: number[][]): unknown;
  destroy?(): void;
}
/** The part of gpu.js (an optional dependency) this file calls. */
interface GpuJs {
  mode: string;
  createKernel(
    fn: (this: GpuJsThis, x: number[][], y: number[][]) => number,
    settings: { output: number[]; constants: { K: number } },
  ): GpuJsKernel;
}
type GpuJsModule = { GPU?: new () => GpuJs; default?: { GPU: new () => GpuJs } };

export async function loadPeers(log: (s: string) => void): Promise<Peers> {
  let tf: TfApi | null = null;
  let tfSkip = '';
  try {
    const g = globalThis as { navigator?: { gpu?: unknown } };
    g.navigator ??= {};
    g.navigator.gpu ??= create([]);
    // typed through TfApi: the optional package's own types may be missing
    tf = (await import('@tensorflow/tfjs-core')) as unknown as TfApi;
    // tfjs-core's Node bundle registers no gradients (the @tensorflow/tfjs union package does).
    // Its ES module sources do, but they import extensionless paths in a package without
    // "type": "module", which Node refuses: TFJS_HOOKS adds the extension and the format. The
    // registrations land in tfjs's global registry, which the Node bundle shares.
    register(TFJS_HOOKS);
    await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) throw new Error('setBackend("webgpu") returned false');
    await tf.ready();
    log(`peer: TF.js ${tf.version_core} WebGPU backend on the same Dawn adapter`);
  } catch (e) {
    tfSkip = `TF.js WebGPU unavailable: ${(e as Error).message.split('\n')[0]}`;
    tf = null;
    log(`peer: ${tfSkip}`);
  }
  let gpujs: GpuJs | null = null;
  let gpuSkip = '';
  try {
    const mod = (await import('gpu.js')) as unknown as GpuJsModule;
    const GPU = mod.GPU ?? mod.default?.GPU;
    if (!GPU) throw new Error('the module exports no GPU class');
    gpujs = new GPU();
    log(`peer: gpu.js mode "${gpujs.mode}"`);
  } catch (e) {
    gpuSkip = `gpu.js unavailable: ${(e as Error).message.split('\n')[0]}`;
  }

  // The same protocol as ours (bench/harness.ts timeGpu): after a warm-up, each repetition is one
  // call followed by a wait for its result, and the median is taken, so both sides pay one sync per
  // operation. TF.js records work lazily and only its readback forces it through, so its sync reads
  // back one float (a 4-byte copy on top of ours). The wait is waitGpu, as ours (engine/wait.ts):
  // dawn.node's default busy-polls a CPU core, which on a CPU adapter slows the work being waited
  // for, and the peer must not pay for that when we do not.
  const timeTf = async (
    tf: TfApi,
    fn: () => TfOut,
    reps: number,
    ours: OursRep,
  ): Promise<{ ms: number; ours_ms: number }> => {
    const sync = (out: TfOut) =>
      waitGpu(tf.slice(tf.reshape(Array.isArray(out) ? out[0] : out, [-1]), [0], [1]).data());
    const warm = fn();
    await sync(warm);
    tf.dispose(warm);
    const times: number[] = [];
    const oursTimes: number[] = [];
    for (let r = 0; r < Math.max(3, reps); r++) {
      oursTimes.push(await ours());
      const t0 = performance.now();
      const out = fn();
      await sync(out);
      times.push(performance.now() - t0);
      tf.dispose(out);
    }
    return { ms: median(times), ours_ms: median(oursTimes) };
  };

  const guard =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>, fallback: (why: string) => R) =>
    async (...a: A): Promise<R> => {
      try {
        return await fn(...a);
      } catch (e) {
        const why = `peer failed: ${(e as Error).message.split('\n')[0]}`;
        log(why);
        return fallback(why);
      }
    };
  const skip = (why: string): Fig => ({ [TFJS]: { skipped: why } });
  const peers: Peers = {
    async matmul(a, b, reps, flops, ours) {
      const fig: Fig = {};
      if (tf) {
        const ta = tf.tensor(rand(a[0] * a[1], 1), a),
          tb = tf.tensor(rand(b[0] * b[1], 2), b);
        const t = await timeTf(tf, () => tf.matMul(ta, tb), reps, ours);
        fig[TFJS] = { ...t, gflops: flops / (t.ms * 1e6) };
        tf.dispose([ta, tb]);
      } else fig[TFJS] = { skipped: tfSkip };
      if (gpujs && a[0] * a[1] * b[1] <= 512 ** 3) {
        const [M, K] = a,
          N = b[1];
        const k = gpujs.createKernel(
          function (this: GpuJsThis, x: number[][], y: number[][]) {
            let s = 0;
            for (let i = 0; i < this.constants.K; i++) s += x[this.thread.y][i] * y[i][this.thread.x];
            return s;
          },
          { output: [N, M], constants: { K } },
        );
        const xa = Array.from({ length: M }, (_, i) => Array.from(rand(K, i + 1)));
        const xb = Array.from({ length: K }, (_, i) => Array.from(rand(N, i + 7)));
        k(xa, xb);
        const t: number[] = [];
        for (let r = 0; r < Math.max(1, Math.min(reps, 3)); r++) {
          const t0 = performance.now();
          k(xa, xb);
          t.push(performance.now() - t0);
        }
        const ms = median(t);
        fig['gpu.js'] = { ms, gflops: flops / (ms * 1e6), note: `mode ${gpujs.mode}` };
        k.destroy?.();
      } else fig['gpu.js'] = { skipped: gpujs ? 'only run up to 512^3 (too slow beyond)' : gpuSkip };
      return fig;
    },

    async attention(c, reps, ours) {
      if (!tf) return { fwd: { [TFJS]: { skipped: tfSkip } }, fwdBwd: { [TFJS]: { skipped: tfSkip } } };
      const shape = [c.B, c.H, c.T, c.D];
      const n = c.B * c.H * c.T * c.D;
      const q = tf.tensor(rand(n, 3), shape),
        k = tf.tensor(rand(n, 4), shape),
        v = tf.tensor(rand(n, 5), shape);
      const scale = 1 / Math.sqrt(c.D);
      const f = (qq: TfTensor, kk: TfTensor, vv: TfTensor) =>
        tf.matMul(tf.softmax(tf.mul(tf.matMul(qq, kk, false, true), scale)), vv);
      const fwd = await timeTf(tf, () => f(q, k, v), reps, ours.fwd);
      const g = tf.grads((qq: TfTensor, kk: TfTensor, vv: TfTensor) => tf.sum(f(qq, kk, vv)));
      const fb = await timeTf(tf, () => g([q, k, v]), reps, ours.fwdBwd);
      tf.dispose([q, k, v]);
      const fl = 4 * c.B * c.H * c.T * c.T * c.D;
      return {
        fwd: { [TFJS]: { ...fwd, gflops: fl / (fwd.ms * 1e6) } },
        fwdBwd: { [TFJS]: { ...fb, gflops: (3.5 * fl) / (fb.ms * 1e6) } },
      };
    },

    async xent(rows, V, chunks, reps, ours) {
      if (!tf) return { [TFJS]: { skipped: tfSkip } };
      const logits = tf.tensor(rand(rows * V, 7, 4), [rows, V]);
      const targets = tf.tensor(
        Int32Array.from({ length: rows }, (_, i) => (i * 7919) % V),
        [rows],
        'int32',
      );
      // what a TF.js user writes: one-hot labels into the library's fused softmax cross-entropy
      const labels = tf.cast(tf.oneHot(targets, V), 'float32');
      const loss = (l: TfTensor) => tf.losses.softmaxCrossEntropy(labels, l, undefined, 0, tf.Reduction.SUM);
      const g = tf.grad(loss);
      const t = await timeTf(
        tf,
        () => {
          const outs: TfTensor[] = [];
          for (let c = 0; c < chunks; c++) outs.push(g(logits));
          return outs.length === 1 ? outs[0] : outs;
        },
        Math.max(1, Math.floor(reps / 2)),
        ours,
      );
      tf.dispose([logits, targets, labels]);
      return { [TFJS]: { ...t, note: 'tf.losses.softmaxCrossEntropy on one-hot labels, gradient by tf.grad' } };
    },
  };
  return {
    matmul: guard(peers.matmul, skip),
    attention: guard(peers.attention, (why) => ({ fwd: skip(why), fwdBwd: skip(why) })),
    xent: guard(peers.xent, skip),
  };
}
