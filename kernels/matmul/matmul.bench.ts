// Matmul benchmark: GFLOP/s of each kernel variant on square and model-shaped products, forward and
// the transposed layouts backward uses. Each shape is first checked against the CPU reference
// (matmul.ref.ts in full up to 512^3, else on 256 sampled entries), then timed: a warm-up run
// (pipeline compile excluded), then rt.sync() around `reps` back-to-back matmulInto dispatches,
// median of 5. On CPU adapters (lavapipe) it also prints GFLOP per CPU-second times the core count:
// wall time on a shared VM swings with other load, process CPU time much less so.
// It is not a test (`npm test` never runs it) and does not compare against other libraries.
// Each variant runs on a device opened with the kernel override that forces it (matmul:<variant>).
// Run: node --import tsx kernels/matmul/matmul.bench.ts [variant,...] [--only=<name part>] [--big]
import { availableParallelism } from 'node:os';
import { openDevice } from '../../engine/device.ts';
import { empty, tensor, type Tensor } from '../../engine/tensor.ts';
import type { Runtime } from '../../engine/runtime.ts';
import { kernelPlan, variantOf } from '../variants.ts';
import { matmul, matmulInto, type MatmulVariant } from './matmul.ts';
import { matmulDims, matmulRef, type MatmulDims } from './matmul.ref.ts';

interface Shape {
  name: string;
  a: number[];
  b: number[];
  transA?: boolean;
  transB?: boolean;
  big?: boolean; // GPUs only (or --big)
  bf16?: boolean; // b stored as bf16 (a weight read by the kernel as it is, decoded to f32)
}

const SHAPES: Shape[] = [
  ...[256, 512, 1024].map((n) => ({ name: `${n}^3`, a: [n, n], b: [n, n] })),
  { name: '4096x64x64', a: [4096, 64], b: [64, 64] },
  // The three products of a Linear layer, at 1024^3: forward x W^T, dX = dY W, dW = dY^T X.
  { name: '1024^3 transB (x W^T)', a: [1024, 1024], b: [1024, 1024], transB: true },
  { name: '1024^3 transA (dY^T X)', a: [1024, 1024], b: [1024, 1024], transA: true },
  { name: '1024^3 transA+transB', a: [1024, 1024], b: [1024, 1024], transA: true, transB: true },
  { name: '1000x1000x1000 (unaligned)', a: [1000, 1000], b: [1000, 1000] },
  // The default training model: (B*T, C) = (768, 64) by C -> 3C, and its two gradients.
  { name: 'model 768x64 @ 64x192', a: [768, 64], b: [64, 192] },
  { name: 'model dX 768x192 @ (64x192)^T', a: [768, 192], b: [64, 192], transB: true },
  { name: 'model dW (768x64)^T @ 768x192', a: [768, 64], b: [768, 192], transA: true },
  { name: 'batched 8x(128x64 @ 64x128)', a: [8, 128, 64], b: [8, 64, 128] },
  // An LLaDA-8B projection for 64 tokens, x W^T, with W in f32 and in bf16 (as LLaDA ships it).
  { name: '64x4096x4096 x W^T f32', a: [64, 4096], b: [4096, 4096], transB: true },
  { name: '64x4096x4096 x W^T bf16', a: [64, 4096], b: [4096, 4096], transB: true, bf16: true },
  { name: '2048^3', a: [2048, 2048], b: [2048, 2048], big: true },
  { name: '4096^3', a: [4096, 4096], b: [4096, 4096], big: true },
];

function rand(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

const numel = (s: number[]) => s.reduce((p, d) => p * d, 1);

/** The reference at `count` sampled output entries (all of them for small products). */
function reference(sh: Shape, d: MatmulDims, ad: Float32Array, bd: Float32Array, count: number): [number[], number[]] {
  const total = d.batch * d.M * d.N;
  if (2 * total * d.K <= 2 ** 28)
    return [[...Array(total).keys()], Array.from(matmulRef(ad, sh.a, bd, sh.b, sh.transA, sh.transB))];
  const idx: number[] = [],
    want: number[] = [];
  for (let s = 0; s < count; s++) {
    const i = Math.floor((((s * 2654435761) % 4294967296) / 4294967296) * total);
    const z = Math.floor(i / (d.M * d.N)),
      m = Math.floor(i / d.N) % d.M,
      n = i % d.N;
    const ao = d.aShared ? 0 : z * d.M * d.K,
      bo = d.bShared ? 0 : z * d.K * d.N;
    let acc = 0;
    for (let k = 0; k < d.K; k++) {
      acc += ad[ao + (sh.transA ? k * d.M + m : m * d.K + k)] * bd[bo + (sh.transB ? n * d.K + k : k * d.N + n)];
    }
    idx.push(i);
    want.push(acc);
  }
  return [idx, want];
}

async function verify(sh: Shape, d: MatmulDims, a: Tensor, b: Tensor, ref: [number[], number[]]) {
  const variant = variantOf(a.rt, 'matmul');
  const out = matmul(a, b, { transA: sh.transA, transB: sh.transB });
  const got = await out.read();
  out.dispose();
  const [idx, want] = ref;
  for (let j = 0; j < idx.length; j++) {
    const err = Math.abs(got[idx[j]] - want[j]);
    if (!(err <= 1e-5 * d.K + 1e-5 * Math.abs(want[j]))) {
      throw new Error(`${sh.name} [${variant}]: entry ${idx[j]} is ${got[idx[j]]}, the reference says ${want[j]}`);
    }
  }
}

async function timeIt(rt: Runtime, fn: () => void, reps: number): Promise<{ wallMs: number; cpuMs: number }> {
  fn(); // warm-up: compile and first touch
  await rt.sync();
  const runs: { wallMs: number; cpuMs: number }[] = [];
  for (let t = 0; t < 5; t++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    await rt.sync();
    const cu = process.cpuUsage(c0);
    runs.push({ wallMs: (performance.now() - t0) / reps, cpuMs: (cu.user + cu.system) / 1000 / reps });
  }
  const med = (xs: number[]) => xs.sort((x, y) => x - y)[2];
  return { wallMs: med(runs.map((r) => r.wallMs)), cpuMs: med(runs.map((r) => r.cpuMs)) };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const only = args.find((a) => a.startsWith('--only='))?.slice(7);
  const probe = await openDevice();
  const info = probe.facts;
  const software = info.software;
  const fallback = variantOf(probe, 'matmul');
  await probe.destroy();
  const cores = availableParallelism();
  const variants = (args.find((a) => !a.startsWith('--'))?.split(',') as MatmulVariant[] | undefined) ?? [fallback];
  console.log(
    `adapter: ${info.description || info.device} (${info.vendor}/${info.architecture}), default kernel ${fallback}`,
  );
  console.log(
    `${'shape'.padEnd(34)}${'kernel'.padEnd(10)}${'ms'.padStart(9)}${'GFLOP/s'.padStart(9)}${software ? `   GFLOP/cpu-s x${cores}` : ''}`,
  );
  for (const variant of variants) {
    const rt = await openDevice({ kernels: { matmul: variant } });
    kernelPlan(rt); // an unknown variant, or one this adapter cannot run, stops here with a message
    for (const sh of SHAPES) {
      if (only && !sh.name.includes(only)) continue;
      if (sh.big && software && !args.includes('--big')) continue;
      const d = matmulDims(sh.a, sh.b, sh.transA, sh.transB) as MatmulDims;
      const flops = 2 * d.batch * d.M * d.N * d.K;
      // The barrier-heavy tiled kernel runs ~1.4 GFLOP/s on lavapipe: minutes per big shape.
      if (software && variant === 'tiled' && flops > 1.1e9) continue;
      const ad = rand(numel(sh.a), 1),
        bd = rand(numel(sh.b), 2);
      // A bf16 b: values rounded down to bf16 (so the reference sees exactly what the kernel reads).
      const bBits = sh.bf16 ? Uint16Array.from(new Uint32Array(bd.buffer), (u) => u >>> 16) : null;
      if (bBits) new Uint32Array(bd.buffer).forEach((u, i, arr) => (arr[i] = u & 0xffff0000));
      const ref = reference(sh, d, ad, bd, 256);
      await rt.scope(async () => {
        const a = tensor(rt, ad, sh.a, 'f32', 'a');
        const b = bBits ? tensor(rt, bBits, sh.b, 'bf16', 'b') : tensor(rt, bd, sh.b, 'f32', 'b');
        const out = empty(rt, d.outShape, 'f32', 'out');
        await verify(sh, d, a, b, ref);
        const reps = Math.min(500, Math.max(3, Math.ceil((software ? 1e9 : 2e11) / flops)));
        const t = await timeIt(rt, () => matmulInto(out, a, b, { transA: sh.transA, transB: sh.transB }), reps);
        const gf = (ms: number) => (flops / ms / 1e6).toFixed(2).padStart(9);
        console.log(
          `${sh.name.padEnd(34)}${variant.padEnd(10)}${t.wallMs.toFixed(3).padStart(9)}${gf(t.wallMs)}${software ? `   ${gf(t.cpuMs / cores)}` : ''}`,
        );
      });
    }
    // Small products are dispatch-bound: the cost of one matmul() call (allocation, record, dispatch).
    await rt.scope(async () => {
      const a = tensor(rt, rand(64 * 64, 3), [64, 64]);
      const b = tensor(rt, rand(64 * 64, 4), [64, 64]);
      const n = 200;
      for (let i = 0; i < n; i++) matmul(a, b).dispose(); // warm the buffer pool (outputs recycle after submit)
      await rt.sync();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) matmul(a, b).dispose();
      await rt.sync();
      console.log(
        `64x64x64 ${variant} via matmul(), ${n} calls in one batch: ${(((performance.now() - t0) / n) * 1000).toFixed(0)} us per call`,
      );
    });
    await rt.destroy();
  }
}

await main();
