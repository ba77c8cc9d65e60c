// `dllm-wgpu bench train`, memory part: the same model (bench train's llada-tiny shape) trained four
// ways, full fine-tuning (f32 weights, gradients, AdamW moments) and LoRA on its frozen bf16 copy
// (bench/train-step.ts: rank 8 on q/k/v/attn_out), each with and without activation recomputation.
// Per case: ms per step, GPU memory (parameters as stored, gradients + AdamW moments of what
// trains, the buffer pool's high-water mark: activations and temporaries; their sum), and the
// process's peak host RSS. Figures are per case: idle pool buffers are dropped and the high-water
// mark and peak-RSS counter restarted before each.
import type { Device } from '../engine/device.ts';
import { createModel } from '../model/io.ts';
import { median, peakRssBytes, resetPeakRss, type BenchResult } from './harness.ts';
import { TRAIN_SHAPES, shapeConfig } from './train.ts';
import { BENCH_LORA, addBenchLora, benchStepper, trainingGpuBytes } from './train-step.ts';

const MiB = 2 ** 20;

export const MEMORY_CASES = [
  { name: 'full fine-tuning', lora: false, recompute: false },
  { name: 'full fine-tuning, recomputation', lora: false, recompute: true },
  { name: 'LoRA', lora: true, recompute: false },
  { name: 'LoRA, recomputation', lora: true, recompute: true },
] as const;

export async function benchTrainMemory(
  dev: Device,
  reps: number,
  log: (s: string) => void,
  shape: (typeof TRAIN_SHAPES)[number] = TRAIN_SHAPES.find((s) => s.name === 'llada-tiny')!,
): Promise<BenchResult[]> {
  const s = shape;
  const cfg = shapeConfig(s);
  const out: BenchResult[] = [];
  for (const c of MEMORY_CASES) {
    log(`train memory ${s.name}: ${c.name}`);
    await dev.sync();
    dev.pool.trim();
    dev.pool.stats.highWaterBytes = dev.pool.stats.allocatedBytes;
    const pool0 = dev.pool.stats.allocatedBytes;
    const rssReset = resetPeakRss();
    // The same initial weights either way; LoRA's base is their bf16 rounding, frozen.
    const model = createModel(cfg, { device: dev, seed: 1, dtype: c.lora ? 'bf16' : 'f32' });
    if (c.lora) addBenchLora(model);
    model.recompute = c.recompute;
    const st = benchStepper(model, s.B, s.T);
    try {
      const t0 = performance.now();
      st.step(1);
      st.step(2);
      await dev.sync();
      const compile = performance.now() - t0;
      const times: number[] = [];
      for (let r = 0; r < reps; r++) {
        const t = performance.now();
        st.step(3 + r);
        await dev.sync();
        times.push(performance.now() - t);
      }
      const gpu = trainingGpuBytes(model);
      const pool = dev.pool.stats.highWaterBytes - pool0;
      out.push({
        case: `train memory ${s.name} ${c.name}`,
        shape:
          `C${s.C} L${s.L} H${s.H} F${s.F} V${s.V} T${s.T} B${s.B}` +
          (c.lora ? `, bf16 base, LoRA r${BENCH_LORA.dim} on ${BENCH_LORA.modules.join('/')}` : ', f32'),
        ms_median: median(times),
        ms_min: Math.min(...times),
        ms_max: Math.max(...times),
        compile_ms: compile,
        verified: 'gradients with recomputation equal those without, bit for bit (model/recompute.test.ts)',
        peer: {},
        extra: {
          trainable_params: st.P.count,
          gpu_params_mib: gpu.params / MiB,
          gpu_grads_and_moments_mib: gpu.gradsAndMoments / MiB,
          gpu_pool_high_water_mib: pool / MiB,
          gpu_total_mib: (gpu.params + gpu.gradsAndMoments + pool) / MiB,
          [rssReset ? 'host_rss_peak_mib' : 'host_rss_mib']:
            (rssReset ? peakRssBytes() : process.memoryUsage().rss) / MiB,
        },
      });
    } finally {
      st.dispose();
      model.dispose();
    }
  }
  return out;
}
