// `dllm-wgpu bench train`: one MDLM training step (forward, fused loss, backward, global-norm
// clip, AdamW) of the default model and of the "llada-tiny" shape (d_model 256, 4 layers, 4 heads,
// MLP 768, vocab 512, seq 128, batch 8): ms/step, tokens/s, model FLOPs/s (6 * params * tokens +
// attention 12 * L * B * T^2 * C) and its share of the 1024^3 matmul rate, GPU time by kernel
// family (timestamp queries), dispatches and submits per step, pool high-water, buffer creates
// after warm-up, host RSS. With --peers, PyTorch CPU runs the same step, its repetitions alternating
// with ours (bench/torch-peer.ts), named with the BLAS it runs on and that BLAS's 1024^3 rate.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Device } from '../engine/device.ts';
import { createConfig } from '../model/config.ts';
import { createModel } from '../model/io.ts';
import { median, peakRssBytes, resetPeakRss, type BenchResult, type PeerFigure } from './harness.ts';
import { TORCH_INSTALL, TorchPeer } from './torch-peer.ts';
import { benchStepProducts, stepProducts } from './train-profile.ts';
import { benchStepper } from './train-step.ts';
import { fmaCeiling } from './fma-ceiling.ts';

// Between our repetition and the peer's: OpenBLAS worker threads spin for about 2^28 cycles after
// their last call before they sleep, and that spin would run on the cores of our next repetition.
const SETTLE_MS = 250;

export const TRAIN_SHAPES = [
  { name: 'default (addition)', C: 64, L: 2, H: 4, F: 192, V: 18, T: 10, B: 64 },
  { name: 'llada-tiny', C: 256, L: 4, H: 4, F: 768, V: 512, T: 128, B: 8 },
];

function family(label: string): string {
  const entry = label.split('[')[0];
  if (/matmul|mm_|gemm/i.test(entry)) return 'matmul';
  if (/attention|attn/i.test(entry)) return 'attention';
  if (/xent/i.test(entry)) return 'softmax-xent';
  if (/rmsnorm|rms/i.test(entry)) return 'rmsnorm';
  if (/rope/i.test(entry)) return 'rope';
  if (/swiglu/i.test(entry)) return 'swiglu';
  if (/embed/i.test(entry)) return 'embedding';
  if (/adam|norm_sq|clip|grad_norm|partial/i.test(entry)) return 'optimizer';
  return 'elementwise/other';
}

/** The model config of a bench shape (all heads full, embedding = vocabulary). */
export function shapeConfig(s: (typeof TRAIN_SHAPES)[number]) {
  return createConfig({
    d_model: s.C,
    n_layers: s.L,
    n_heads: s.H,
    n_kv_heads: s.H,
    mlp_hidden_size: s.F,
    vocab_size: s.V,
    embedding_size: s.V,
    max_sequence_length: Math.max(256, s.T),
  });
}

export async function benchTrain(
  dev: Device,
  reps: number,
  matmulGflops: number | undefined,
  withPeer: boolean,
  log: (s: string) => void,
): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  const started = withPeer ? await TorchPeer.start(log) : null;
  const torch = started instanceof TorchPeer ? started : null;
  if (torch) log(`peer: PyTorch CPU, ${torch.describe()}${torch.blas.optimised ? '' : ' (not a peer)'}`);
  else if (started && 'skipped' in started) log(`peer: PyTorch CPU skipped: ${started.skipped}`);
  try {
    for (const s of TRAIN_SHAPES) out.push(await benchShape(dev, s, reps, matmulGflops, torch, started));
    // Where the llada-tiny step's time goes, shape by shape, and the adapter's arithmetic ceiling.
    const tiny = TRAIN_SHAPES[1];
    const peerOn = torch?.blas.optimised ? torch : null;
    out.push(
      ...(await benchStepProducts(
        dev,
        tiny.name,
        stepProducts(shapeConfig(tiny), tiny.B * tiny.T),
        reps,
        matmulGflops,
        peerOn,
      )),
    );
    const ceiling = await fmaCeiling(dev, reps);
    const step = out.find((r) => r.case === `train step ${tiny.name}`);
    const peerMs = step?.peer['pytorch-cpu']?.ms;
    if (step?.gflops && peerMs) {
      // The model FLOP/s a step at PyTorch's time would need, against what the adapter's ALUs reach.
      const need = (step.gflops * step.ms_median) / peerMs;
      ceiling.extra = { [`${tiny.name}_step_at_pytorch_time_needs_gflops`]: need };
      ceiling.shape += `; ${tiny.name} at PyTorch's ${peerMs.toFixed(0)} ms/step needs ${need.toFixed(1)}`;
    }
    out.push(ceiling);
  } finally {
    torch?.close();
  }
  return out;
}

async function benchShape(
  dev: Device,
  s: (typeof TRAIN_SHAPES)[number],
  reps: number,
  matmulGflops: number | undefined,
  torch: TorchPeer | null,
  started: TorchPeer | { skipped: string } | null,
): Promise<BenchResult> {
  // Memory figures are per case: drop idle pool buffers left by earlier cases or sections and
  // restart the high-water mark; restart the kernel's peak-RSS counter where Linux allows it.
  await dev.sync();
  dev.pool.trim();
  dev.pool.stats.highWaterBytes = dev.pool.stats.allocatedBytes;
  const rssReset = resetPeakRss();
  const cfg = shapeConfig(s);
  const model = createModel(cfg, { device: dev, seed: 1 });
  const stepper = benchStepper(model, s.B, s.T);
  const P = stepper.P;
  const N = s.B * s.T;
  const step = (k: number) => stepper.step(k);
  const t0 = performance.now();
  step(1);
  step(2);
  await dev.sync();
  const compile = performance.now() - t0;
  const creates0 = dev.pool.stats.creates;
  const d0 = dev.stats.dispatches,
    s0 = dev.stats.submits;
  const peerOn = torch?.blas.optimised ?? false;
  if (peerOn) await torch!.build(s);
  const times: number[] = [];
  const peerTimes: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    step(3 + r);
    await dev.sync();
    times.push(performance.now() - t);
    if (peerOn) {
      await sleep(SETTLE_MS);
      peerTimes.push(await torch!.step());
      await sleep(SETTLE_MS);
    }
  }
  const dispatches = (dev.stats.dispatches - d0) / reps,
    submits = (dev.stats.submits - s0) / reps;
  const newBuffers = dev.pool.stats.creates - creates0;
  let breakdown: Record<string, number> = {};
  let gpuMs: number | undefined;
  if (dev.facts.features.has('timestamp-query')) {
    dev.startProfile();
    step(100);
    await dev.sync();
    const prof = await dev.stopProfile();
    gpuMs = [...prof.values()].reduce((a, b) => a + b, 0);
    for (const [label, ms] of prof) breakdown[family(label)] = (breakdown[family(label)] ?? 0) + ms;
    breakdown = Object.fromEntries(
      Object.entries(breakdown)
        .sort((a, b) => b[1] - a[1])
        .map(([k, ms]) => [k, +((ms / gpuMs!) * 100).toFixed(1)]),
    );
  }
  const ms = median(times);
  const flops = 6 * P.count * N + 12 * s.L * s.B * s.T * s.T * s.C;
  const gflops = flops / (ms * 1e6);
  const r: BenchResult = {
    case: `train step ${s.name}`,
    shape: `C${s.C} L${s.L} H${s.H} F${s.F} V${s.V} T${s.T} B${s.B} (${(P.count / 1e6).toFixed(2)}M params)`,
    ms_median: ms,
    ms_min: Math.min(...times),
    ms_max: Math.max(...times),
    gpu_ms: gpuMs,
    compile_ms: compile,
    gflops,
    verified: 'model forward/backward checked by the test suite (model/llada.test.ts)',
    peer: {},
    extra: {
      tokens_per_sec: (N * 1000) / ms,
      share_of_1024_matmul: matmulGflops ? gflops / matmulGflops : undefined,
      gpu_time_percent_by_family: breakdown,
      matmul_plus_attention_percent: (breakdown.matmul ?? 0) + (breakdown.attention ?? 0),
      dispatches_per_step: dispatches,
      submits_per_step: submits,
      new_gpu_buffers_after_warmup: newBuffers,
      pool_high_water_mib: dev.pool.stats.highWaterBytes / 2 ** 20,
      // Whole-process figures (they include the runtime, earlier sections and peers): the peak
      // since this case began where /proc allows resetting it, else the current RSS.
      [rssReset ? 'host_rss_peak_mib' : 'host_rss_mib']:
        (rssReset ? peakRssBytes() : process.memoryUsage().rss) / 2 ** 20,
    },
  };
  if (torch) {
    r.extra!.pytorch_blas = torch.blas.name;
    r.extra!.pytorch_matmul_1024_gflops = torch.info.gflops_1024;
    r.extra!.ours_matmul_1024_gflops = matmulGflops;
  }
  if (started) r.peer['pytorch-cpu'] = torchFigure(torch, started, peerTimes, times, N);
  stepper.dispose();
  model.dispose();
  return r;
}

function torchFigure(
  torch: TorchPeer | null,
  started: TorchPeer | { skipped: string },
  peerTimes: number[],
  ours: number[],
  N: number,
): PeerFigure {
  if (!torch) return { skipped: (started as { skipped: string }).skipped };
  if (!torch.blas.optimised)
    return {
      skipped: `not a peer: ${torch.describe()}; install an optimised BLAS (${TORCH_INSTALL}) and rerun`,
    };
  const ms = median(peerTimes);
  return { ms, ours_ms: median(ours), tokens_per_sec: (N * 1000) / ms, note: torch.describe() };
}
