// `dllm-wgpu bench scale --lora`: LoRA fine-tuning steps on a real-size LLaDA (the preset's random
// bf16 checkpoint, written once by scale-checkpoint.ts): the base loaded frozen in bf16, LoRA rank
// 8 on q_proj/k_proj/v_proj/attn_out (bench/train-step.ts), activation recomputation on, batch 1
// of 64 tokens, two optimizer steps (forward, fused LM head + loss, backward, clip, AdamW). Reported
// per step: seconds (the first includes pipeline compiles), and once: load seconds, peak host RSS
// (VmHWM, reset where Linux allows), GPU memory (parameters as stored, adapter gradients and AdamW
// moments, the pool's high-water mark). The sampling cases of `bench scale` are not run.
import type { Device } from '../engine/device.ts';
import { loadModel } from '../model/io.ts';
import { peakRssBytes, resetPeakRss, type BenchResult } from './harness.ts';
import { defaultScaleDir, ensureScaleCheckpoint, fmtBytes, fmtCount } from './scale-checkpoint.ts';
import { SCALE_LORA, SCALE_PRESETS } from './scale-presets.ts';
import { scaleLayers, type ScaleOptions } from './scale.ts';
import { BENCH_LORA, addBenchLora, benchStepper, trainingGpuBytes } from './train-step.ts';

const GiB = 2 ** 30;

export async function benchScaleLora(dev: Device, o: Omit<ScaleOptions, 'repeat'>): Promise<BenchResult[]> {
  const preset = SCALE_PRESETS[o.preset];
  const layers = scaleLayers(o.preset, o.layers);
  const dir = o.out ?? defaultScaleDir(o.preset, layers);
  const tag = `scale ${o.preset} L${layers} LoRA`;
  const ck = await ensureScaleCheckpoint({ preset, layers, dir, log: o.log });

  await dev.sync();
  dev.pool.trim();
  const pool0 = dev.pool.stats.allocatedBytes;
  dev.pool.stats.highWaterBytes = pool0;
  const rssReset = resetPeakRss();
  const t0 = performance.now();
  o.log(`${tag}: loading ${dir} (bf16, frozen)`);
  const model = await loadModel(dir, { device: dev });
  const loadSeconds = (performance.now() - t0) / 1000;
  try {
    addBenchLora(model);
    model.recompute = true;
    const { batch: B, seqLength: T, steps } = SCALE_LORA;
    const st = benchStepper(model, B, T);
    const seconds: number[] = [];
    try {
      for (let k = 1; k <= steps; k++) {
        const t = performance.now();
        st.step(k);
        await dev.sync();
        seconds.push((performance.now() - t) / 1000);
        o.log(`${tag}: step ${k}/${steps} in ${seconds[k - 1].toFixed(1)} s`);
      }
    } finally {
      st.dispose();
    }
    const gpu = trainingGpuBytes(model);
    const pool = dev.pool.stats.highWaterBytes - pool0;
    const last = seconds[seconds.length - 1];
    return [
      {
        case: `${tag} step`,
        shape:
          `${fmtCount(ck.params)} params bf16 (frozen), LoRA r${BENCH_LORA.dim} on ${BENCH_LORA.modules.join('/')}` +
          ` (${fmtCount(model.lora!.count)} trainable), batch ${B} x ${T} tokens, recomputation on`,
        ms_median: last * 1000,
        ms_min: Math.min(...seconds) * 1000,
        ms_max: Math.max(...seconds) * 1000,
        compile_ms: (seconds[0] - last) * 1000,
        verified: 'LoRA gradients checked by the test suite (model/lora.test.ts, model/recompute.test.ts)',
        peer: {},
        extra: {
          seconds_per_step: seconds,
          tokens_per_sec: (B * T) / last,
          load_seconds: loadSeconds,
          checkpoint: `${fmtBytes(ck.bytes)} in ${dir}`,
          trainable_params: model.lora!.count,
          host_rss_peak_gib: (rssReset ? peakRssBytes() : process.memoryUsage().rss) / GiB,
          host_rss_is_peak: rssReset,
          gpu_params_gib: gpu.params / GiB,
          gpu_grads_and_moments_gib: gpu.gradsAndMoments / GiB,
          gpu_pool_high_water_gib: pool / GiB,
          gpu_total_gib: (gpu.params + gpu.gradsAndMoments + pool) / GiB,
        },
      },
    ];
  } finally {
    model.dispose();
  }
}
