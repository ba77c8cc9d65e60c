// `dllm-wgpu bench kernels`: matmul (square, tall-skinny, the default and llada-tiny model shapes
// with the transposed variants backward uses, LLaDA-8B's q_proj with f32 and bf16 weights), attention forward and forward+backward, fused
// softmax-cross-entropy forward+backward over a 2048 x 32000 block, AdamW over 10M parameters.
// Each case is checked once against the CPU reference, then timed; peers run the same shapes.
import type { Device } from '../engine/device.ts';
import { tensor, type Tensor } from '../engine/tensor.ts';
import { backward } from '../engine/autograd.ts';
import { matmul } from '../kernels/matmul/matmul.ts';
import { matmulRef } from '../kernels/matmul/matmul.ref.ts';
import { attention } from '../kernels/attention/attention.ts';
import { attentionRef } from '../kernels/attention/attention.ref.ts';
import { softmaxCrossEntropy } from '../kernels/softmax-xent/softmax-xent.ts';
import { xentRef } from '../kernels/softmax-xent/softmax-xent.ref.ts';
import { adamwStep } from '../kernels/adamw/adamw.ts';
import { adamwRef } from '../kernels/adamw/adamw.ref.ts';
import { bf16BitsToF32, f32ToBf16Bits } from '../model/float-convert.ts';
import { oursRep, rand, result, timeGpu, verify, type BenchResult } from './harness.ts';
import type { Peers } from './peers.ts';

interface MmCase {
  name: string;
  a: number[];
  b: number[];
  transA?: boolean;
  transB?: boolean;
  /** B stored as 16-bit floats (a frozen bf16 weight, decoded as the kernel reads it). */
  bDtype?: 'bf16';
}

export const MATMUL_CASES: MmCase[] = [
  { name: 'matmul 256^3', a: [256, 256], b: [256, 256] },
  { name: 'matmul 512^3', a: [512, 512], b: [512, 512] },
  { name: 'matmul 1024^3', a: [1024, 1024], b: [1024, 1024] },
  { name: 'matmul 4096x64x64', a: [4096, 64], b: [64, 64] },
  { name: 'matmul 1024^3 x W^T (linear fwd)', a: [1024, 1024], b: [1024, 1024], transB: true },
  { name: 'matmul 1024^3 dY^T X (linear dW)', a: [1024, 1024], b: [1024, 1024], transA: true },
  { name: 'default: x W^T [640,64]x[192,64]^T', a: [640, 64], b: [192, 64], transB: true },
  { name: 'default: dX [640,192]x[192,64]', a: [640, 192], b: [192, 64] },
  { name: 'default: dW [640,192]^T x [640,64]', a: [640, 192], b: [640, 64], transA: true },
  { name: 'llada-tiny: x W^T [1024,256]x[768,256]^T', a: [1024, 256], b: [768, 256], transB: true },
  { name: 'llada-tiny: dX [1024,768]x[768,256]', a: [1024, 768], b: [768, 256] },
  { name: 'llada-tiny: dW [1024,768]^T x [1024,256]', a: [1024, 768], b: [1024, 256], transA: true },
  // LLaDA-8B's q_proj at a 64-token forward, weights in f32 and in bf16 (what LLaDA ships)
  { name: 'llada-8b: x W^T [64,4096]x[4096,4096]^T f32', a: [64, 4096], b: [4096, 4096], transB: true },
  {
    name: 'llada-8b: x W^T [64,4096]x[4096,4096]^T bf16 W',
    a: [64, 4096],
    b: [4096, 4096],
    transB: true,
    bDtype: 'bf16',
  },
];

const numel = (s: number[]) => s.reduce((p, d) => p * d, 1);

function mmFlops(c: MmCase): number {
  const [M, K] = c.transA ? [c.a[1], c.a[0]] : [c.a[0], c.a[1]];
  const N = c.transB ? c.b[0] : c.b[1];
  return 2 * M * N * K;
}

export async function benchMatmul(dev: Device, reps: number, peers: Peers | null): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const c of MATMUL_CASES) {
    const ad = rand(numel(c.a), 1);
    let bd = rand(numel(c.b), 2);
    const a = tensor(dev, ad, c.a).keep();
    let b: Tensor;
    if (c.bDtype) {
      const bits = new Uint16Array(bd.length);
      f32ToBf16Bits(bd, bits);
      bd = new Float32Array(bd.length);
      bf16BitsToF32(bits, bd); // the reference multiplies the values the kernel decodes
      b = tensor(dev, bits, c.b, c.bDtype).keep();
    } else b = tensor(dev, bd, c.b).keep();
    const got = await dev.scope(
      async () => (await matmul(a, b, { transA: c.transA, transB: c.transB }).read()) as Float32Array,
    );
    const K = c.transA ? c.a[0] : c.a[1];
    const verified = verify(got, matmulRef(ad, c.a, bd, c.b, c.transA, c.transB), 1e-5 * K, 1e-4);
    const tm = await timeGpu(dev, () => void matmul(a, b, { transA: c.transA, transB: c.transB }), reps);
    const r = result(
      c.name,
      `${c.a.join('x')} ${c.transA ? 'T' : ''}@ ${c.b.join('x')}${c.transB ? 'T' : ''}`,
      tm,
      mmFlops(c),
      verified,
    );
    if (peers && /^matmul (256|512|1024)\^3$|4096x64x64/.test(c.name)) {
      r.peer = await peers.matmul(
        c.a,
        c.b,
        reps,
        mmFlops(c),
        oursRep(dev, () => void matmul(a, b, { transA: c.transA, transB: c.transB })),
      );
    }
    const f32Twin = c.bDtype && out.find((o) => o.case === c.name.replace(/ bf16 W$/, ' f32'));
    if (f32Twin) r.extra = { rate_vs_f32_weights: f32Twin.ms_median / r.ms_median };
    out.push(r);
    a.dispose();
    b.dispose();
  }
  return out;
}

export const ATTN_CASES = [
  { name: 'attention B1 H4 T256 D32', B: 1, T: 256, H: 4, D: 32 },
  { name: 'attention default B64 H4 T10 D16', B: 64, T: 10, H: 4, D: 16 },
  { name: 'attention llada-tiny B8 H4 T128 D64', B: 8, T: 128, H: 4, D: 64 },
];

export async function benchAttention(dev: Device, reps: number, peers: Peers | null): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const c of ATTN_CASES) {
    const n = c.B * c.T * c.H * c.D;
    const qd = rand(n, 3),
      kd = rand(n, 4),
      vd = rand(n, 5);
    const q = tensor(dev, qd, [c.B, c.T, c.H, c.D]).keep(),
      k = tensor(dev, kd, [c.B, c.T, c.H, c.D]).keep(),
      v = tensor(dev, vd, [c.B, c.T, c.H, c.D]).keep();
    const dims = { B: c.B, T: c.T, S: c.T, H: c.H, Hkv: c.H, D: c.D };
    const got = await dev.scope(async () => (await attention(q, k, v).read()) as Float32Array);
    const verified = verify(got, attentionRef(dims, qd, kd, vd, null, 1 / Math.sqrt(c.D)), 1e-5, 1e-4);
    const flopsF = 4 * c.B * c.H * c.T * c.T * c.D;
    const shape = `B${c.B} H${c.H} T${c.T} D${c.D}`;
    const fwd = result(
      `${c.name} fwd`,
      shape,
      await timeGpu(dev, () => void attention(q, k, v), reps),
      flopsF,
      verified,
    );
    const seed = tensor(dev, rand(n, 6), [c.B, c.T, c.H, c.D]).keep();
    for (const t of [q, k, v]) t.requiresGrad = true;
    const fwdBwd = () => {
      backward(attention(q, k, v), seed);
      for (const t of [q, k, v]) {
        t.grad?.dispose();
        t.grad = null;
      }
    };
    const fb = result(`${c.name} fwd+bwd`, shape, await timeGpu(dev, fwdBwd, reps), 3.5 * flopsF, verified);
    if (peers) {
      const p = await peers.attention(c, reps, {
        fwd: oursRep(dev, () => void attention(q, k, v)),
        fwdBwd: oursRep(dev, fwdBwd),
      });
      fwd.peer = p.fwd;
      fb.peer = p.fwdBwd;
    }
    out.push(fwd, fb);
    [q, k, v, seed].forEach((t) => t.dispose());
  }
  return out;
}

/** Softmax-cross-entropy fwd+bwd over N x V logits, in row chunks that fit one storage binding. */
export async function benchXent(
  dev: Device,
  reps: number,
  peers: Peers | null,
  N = 2048,
  V = 32000,
): Promise<BenchResult[]> {
  const maxRows = Math.floor(dev.limits.maxStorageBufferBindingSize / (V * 4));
  const chunks = Math.ceil(N / Math.min(N, maxRows));
  const R = Math.ceil(N / chunks);
  const ld = rand(R * V, 7, 4);
  const td = Int32Array.from({ length: R }, (_, i) => (i * 7919) % V);
  const wd = Float32Array.from({ length: R }, (_, i) => 1 / (1 + (i % 3)));
  const logits = tensor(dev, ld, [R, V]).keep();
  const targets = tensor(dev, td, [R], 'i32').keep();
  const weights = tensor(dev, wd, [R]).keep();
  const got = await dev.scope(async () => (await softmaxCrossEntropy(logits, targets, weights).read()) as Float32Array);
  const verified = verify(got, xentRef(ld, td, wd, R, V), 1e-3, 1e-4);
  logits.requiresGrad = true;
  const step = () => {
    for (let c = 0; c < chunks; c++) {
      backward(softmaxCrossEntropy(logits, targets, weights));
      logits.grad?.dispose();
      logits.grad = null;
    }
  };
  const tm = await timeGpu(dev, step, reps);
  const r = result(
    'softmax-xent fwd+bwd',
    `${N}x${V}${chunks > 1 ? ` (${chunks} chunks of ${R} rows: binding limit)` : ''}`,
    tm,
    undefined,
    verified,
  );
  if (peers) r.peer = await peers.xent(R, V, chunks, reps, oursRep(dev, step));
  [logits, targets, weights].forEach((t) => t.dispose());
  return [r];
}

export async function benchAdamw(dev: Device, reps: number, n = 10_000_000): Promise<BenchResult[]> {
  const pd = rand(n, 8),
    gd = rand(n, 9),
    md = new Float32Array(n),
    vd = new Float32Array(n);
  const p = tensor(dev, pd, [n]).keep(),
    g = tensor(dev, gd, [n]).keep(),
    m = tensor(dev, md, [n]).keep(),
    v = tensor(dev, vd, [n]).keep();
  const o = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 1 };
  adamwStep(p, g, m, v, o);
  const got = (await p.read()) as Float32Array;
  const check = 100_000;
  const want = adamwRef(
    pd.subarray(0, check),
    gd.subarray(0, check),
    md.subarray(0, check),
    vd.subarray(0, check),
    o,
  ).subarray(0, check);
  const verified = verify(got.subarray(0, check), want, 1e-6, 1e-5);
  const tm = await timeGpu(dev, () => adamwStep(p, g, m, v, { ...o, step: 2 }), reps);
  const r = result('adamw step', `${(n / 1e6).toFixed(0)}M params`, tm, undefined, verified);
  r.extra = { gb_per_s: (n * 4 * 7) / (r.ms_median * 1e6) };
  [p, g, m, v].forEach((t) => t.dispose());
  return [r];
}
