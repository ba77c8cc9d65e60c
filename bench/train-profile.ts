// `bench train`'s matmul profile: every product shape one training step of a model runs (the
// forward x W^T, dX = dY W and dW = dY^T X of each block linear and of the LM head), how many of each
// a step runs, our GFLOP/s at that shape against our own 1024^3 rate, and with --peers PyTorch's
// rate at the same shape and layout (its BLAS named by the step case), the two alternated
// repetition by repetition. Together with the step's GPU time by family this says which shapes
// hold a step back, and where a peer's BLAS pulls ahead.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Device } from '../engine/device.ts';
import { empty, tensor } from '../engine/tensor.ts';
import { matmulInto } from '../kernels/matmul/matmul.ts';
import { median, rand, type BenchResult } from './harness.ts';
import type { TorchPeer } from './torch-peer.ts';
import { embeddingRows, type ModelConfig } from '../model/config.ts';
import { parameterTable } from '../model/names.ts';

/** A product C (M, N) = op(A) op(B), contracted over K, `count` times per step. */
export interface StepProduct {
  what: string;
  M: number;
  K: number;
  N: number;
  transA: boolean;
  transB: boolean;
  count: number;
}

/**
 * The products one training step of `cfg` runs on `rows` = B * T tokens, from the model's own
 * parameter table: every weight matrix but the embedding (a gather) is a linear, run forward as
 * x W^T, backward as dX = dY W and dW = dY^T X. Weights of one shape share a row (their names joined).
 */
export function stepProducts(cfg: ModelConfig, rows: number): StepProduct[] {
  const byShape = new Map<string, { roles: Set<string>; outF: number; inF: number; count: number }>();
  for (const e of parameterTable(cfg)) {
    if (e.shape.length !== 2 || e.role === 'wte') continue;
    const [outF, inF] = e.shape;
    const key = `${outF}x${inF}`;
    const g = byShape.get(key) ?? { roles: new Set<string>(), outF, inF, count: 0 };
    g.roles.add(e.role);
    g.count++;
    byShape.set(key, g);
  }
  // Under weight tying the head is the embedding matrix, still a linear at the end of the forward.
  if (cfg.weight_tying)
    byShape.set('head', { roles: new Set(['lm_head (tied)']), outF: embeddingRows(cfg), inF: cfg.d_model, count: 1 });
  const out: StepProduct[] = [];
  for (const { roles, outF, inF, count } of byShape.values()) {
    const what = [...roles].join('/');
    out.push({ what: `${what} x W^T`, M: rows, K: inF, N: outF, transA: false, transB: true, count });
    out.push({ what: `${what} dX`, M: rows, K: outF, N: inF, transA: false, transB: false, count });
    out.push({ what: `${what} dW`, M: outF, K: rows, N: inF, transA: true, transB: false, count });
  }
  return out;
}

const CALLS = 10; // products per timed repetition (one sync), on both sides
const SETTLE_MS = 100; // let OpenBLAS's spinning workers go to sleep before our repetition

export async function benchStepProducts(
  dev: Device,
  name: string,
  products: StepProduct[],
  reps: number,
  ownGflops1024: number | undefined,
  torch: TorchPeer | null,
): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const p of products) {
    const flops = 2 * p.M * p.K * p.N;
    const times: number[] = [];
    const peerTimes: number[] = [];
    let compile = 0;
    await dev.scope(async () => {
      const a = tensor(dev, rand(p.M * p.K, 1), p.transA ? [p.K, p.M] : [p.M, p.K]);
      const b = tensor(dev, rand(p.K * p.N, 2), p.transB ? [p.N, p.K] : [p.K, p.N]);
      const c = empty(dev, [p.M, p.N]);
      const rep = async (calls: number) => {
        const t = performance.now();
        for (let i = 0; i < calls; i++) matmulInto(c, a, b, { transA: p.transA, transB: p.transB });
        await dev.sync();
        return (performance.now() - t) / calls;
      };
      compile = await rep(1);
      for (let r = 0; r < reps; r++) {
        if (torch) await sleep(SETTLE_MS);
        times.push(await rep(CALLS));
        if (torch) peerTimes.push(await torch.matmul(p.M, p.K, p.N, p.transA, p.transB, CALLS));
      }
    });
    const ms = median(times);
    const gflops = flops / (ms * 1e6);
    const r: BenchResult = {
      case: `${name} matmul ${p.what}`,
      shape: `${p.transA ? `[${p.K},${p.M}]^T` : `[${p.M},${p.K}]`} x ${p.transB ? `[${p.N},${p.K}]^T` : `[${p.K},${p.N}]`}, ${p.count}/step`,
      ms_median: ms,
      ms_min: Math.min(...times),
      ms_max: Math.max(...times),
      compile_ms: compile,
      gflops,
      verified: 'matmul checked against its CPU reference by the kernel tests and `bench kernels`',
      peer: {},
      extra: {
        ms_per_step: ms * p.count,
        share_of_own_1024: ownGflops1024 ? gflops / ownGflops1024 : undefined,
      },
    };
    if (torch) {
      const pms = median(peerTimes);
      r.peer['pytorch-cpu'] = { ms: pms, ours_ms: ms, gflops: flops / (pms * 1e6), note: torch.describe() };
      r.extra!.pytorch_gflops = flops / (pms * 1e6);
    }
    results.push(r);
  }
  return results;
}
