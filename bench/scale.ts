// `dllm-wgpu bench scale`: a real-size LLaDA on this adapter. Writes (once) a random-weight bf16
// checkpoint of a preset's shape (scale-checkpoint.ts), loads it, and samples as LLaDA's
// generate() does: prompt 32 random tokens, gen 32, block 32, steps 32, plain and with Fast-dLLM's
// dual cache (random weights never reach a confidence threshold, so no threshold case). Reported:
// load seconds, peak host RSS (VmHWM, reset where Linux allows), GPU memory (parameters + the
// pool's high-water), seconds per forward, generated tokens/s, and the model's FLOP/s as a share of
// the engine's own matmul rate at the same shapes, measured in the same run on the model's own
// weight tensors (so the share reads bf16 weights where the model stores bf16).
// Model FLOPs (sample/denoiser.ts denoiserFlops): 2 per block weight per token, 2 per LM-head weight
// per row the head reads (the block's rows only), attention 4 * C per query-key pair per layer.
import type { Device } from '../engine/device.ts';
import { tensor, type Tensor } from '../engine/tensor.ts';
import { UserError } from '../engine/errors.ts';
import { noGradAsync } from '../engine/autograd.ts';
import { linear } from '../kernels/matmul/matmul.ts';
import { embeddingRows, headDim, kvHeads, mlpHidden } from '../model/config.ts';
import { loadModel } from '../model/io.ts';
import type { LLaDAModel } from '../model/llada.ts';
import { blockParamName, PREFIX } from '../model/names.ts';
import { generate, type Denoiser, type GenerateOptions } from '../sample/generate.ts';
import { denoiserFlops, modelDenoiser, type CacheMode } from '../sample/denoiser.ts';
import { median, peakRssBytes, rand, resetPeakRss, timeGpu, type BenchResult } from './harness.ts';
import { defaultScaleDir, ensureScaleCheckpoint, fmtBytes, fmtCount } from './scale-checkpoint.ts';
import { SCALE_PRESETS, type ScalePresetName } from './scale-presets.ts';

export const SCALE_SAMPLING = { promptLength: 32, genLength: 32, blockLength: 32, steps: 32 };
const SETTINGS: { name: string; cache: CacheMode }[] = [
  { name: 'plain', cache: 'none' },
  { name: 'dual cache', cache: 'dual' },
];

export interface ScaleOptions {
  preset: ScalePresetName;
  /** Depth; default the preset's. */
  layers?: number;
  /** Checkpoint folder; default in the user's cache (defaultScaleDir). */
  out?: string;
  /** Timed repetitions of each matmul shape. */
  repeat: number;
  log: (s: string) => void;
}

const GiB = 2 ** 30;

/** Check --preset/--layers and resolve the depth. */
export function scaleLayers(preset: string, layers: number | undefined): number {
  if (!Object.hasOwn(SCALE_PRESETS, preset)) {
    throw new UserError(`--preset ${preset}: unknown; use one of ${Object.keys(SCALE_PRESETS).join(', ')}`);
  }
  const max = SCALE_PRESETS[preset as ScalePresetName].config.n_layers as number;
  if (layers === undefined) return max;
  if (!Number.isInteger(layers) || layers < 1 || layers > max) {
    throw new UserError(`--layers ${layers}: the ${preset} preset has ${max} layers; pass 1 to ${max}`);
  }
  return layers;
}

/** The linear layers of one forward: a weight tensor standing for each shape, and its uses per forward. */
function matmulShapes(model: LLaDAModel): { name: string; w: Tensor; uses: number }[] {
  const cfg = model.config;
  const L = cfg.n_layers;
  const p = (n: string) => model.params.get(n);
  const shapes = [
    { name: 'q_proj, attn_out', w: p(blockParamName(0, 'q_proj')), uses: 2 * L },
    { name: 'k_proj, v_proj', w: p(blockParamName(0, 'k_proj')), uses: 2 * L },
    { name: 'ff_proj, up_proj', w: p(blockParamName(0, 'ff_proj')), uses: 2 * L },
    { name: 'ff_out', w: p(blockParamName(0, 'ff_out')), uses: L },
    { name: 'lm head', w: p(`${PREFIX}.${cfg.weight_tying ? 'wte' : 'ff_out'}.weight`), uses: 1 },
  ];
  // GQA-free models have k/v shaped as q: time that shape once
  if (kvHeads(cfg) === cfg.n_heads) {
    shapes[0].uses += shapes[1].uses;
    shapes.splice(1, 1);
  }
  return shapes;
}

/**
 * Seconds of each matmul shape at M rows: the median of `reps` timed runs after a warm-up. A run
 * encodes the shape back to back (as a forward does) until about 1 GFLOP, up to 64 times, so a
 * small shape's time is not its sync latency.
 */
async function timeShapes(dev: Device, model: LLaDAModel, M: number, reps: number): Promise<number[]> {
  const out: number[] = [];
  for (const s of matmulShapes(model)) {
    const x = tensor(dev, rand(M * s.w.shape[1], M, 0.5), [M, s.w.shape[1]]).keep();
    const k = Math.min(64, Math.ceil(1e9 / (2 * M * s.w.size)));
    const tm = await noGradAsync(() =>
      timeGpu(
        dev,
        () => {
          for (let i = 0; i < k; i++) linear(x, s.w);
        },
        reps,
      ),
    );
    out.push(median(tm.times) / 1000 / k);
    x.dispose();
  }
  return out;
}

/** Matmul FLOPs of a forward: per token through the blocks' linears, per row through the LM head. */
function matmulFlops(cfg: LLaDAModel['config']): { perToken: number; perHeadRow: number } {
  const C = cfg.d_model,
    F = mlpHidden(cfg),
    KV = kvHeads(cfg) * headDim(cfg);
  return { perToken: 2 * cfg.n_layers * (2 * C * C + 2 * KV * C + 3 * F * C), perHeadRow: 2 * embeddingRows(cfg) * C };
}

function promptIds(vocab: number, avoid: number[], n: number): number[] {
  let s = 12345;
  const out: number[] = [];
  while (out.length < n) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const id = s % vocab;
    if (!avoid.includes(id)) out.push(id);
  }
  return out;
}

export async function benchScale(dev: Device, o: ScaleOptions): Promise<BenchResult[]> {
  const preset = SCALE_PRESETS[o.preset];
  const layers = scaleLayers(o.preset, o.layers);
  const dir = o.out ?? defaultScaleDir(o.preset, layers);
  const tag = `scale ${o.preset} L${layers}`;
  const ck = await ensureScaleCheckpoint({ preset, layers, dir, log: o.log });

  await dev.sync();
  dev.pool.trim();
  dev.pool.stats.highWaterBytes = dev.pool.stats.allocatedBytes;
  const rssReset = resetPeakRss();
  const t0 = performance.now();
  let shown = 0;
  const model = await loadModel(dir, {
    device: dev,
    onProgress: (p) => {
      const pct = Math.floor((p.bytes * 10) / p.total) * 10;
      if (pct <= shown && p.bytes < p.total) return;
      shown = pct;
      const rate = p.bytes / Math.max(p.seconds, 1e-3);
      o.log(
        `loading ${dir}: ${fmtBytes(p.bytes)} / ${fmtBytes(p.total)} (${pct}%), ${fmtBytes(rate)}/s, ETA ${((p.total - p.bytes) / rate).toFixed(0)} s`,
      );
    },
  });
  const loadSeconds = (performance.now() - t0) / 1000;
  try {
    const cfg = model.config;
    const prompt = promptIds(cfg.vocab_size, [cfg.mask_token_id, cfg.eos_token_id], SCALE_SAMPLING.promptLength);
    const gen: GenerateOptions = {
      steps: SCALE_SAMPLING.steps,
      genLength: SCALE_SAMPLING.genLength,
      blockLength: SCALE_SAMPLING.blockLength,
      temperature: 0,
      remasking: 'low_confidence',
      cfgScale: 0,
      seed: 0,
      maskId: cfg.mask_token_id,
      endIds: [cfg.eos_token_id],
      earlyStop: false,
    };
    const mm = matmulFlops(cfg);
    const runs: { name: string; seconds: number; nfe: number; tokens: number[]; headRows: number[]; flops: number }[] =
      [];
    for (const s of SETTINGS) {
      // warm-up: the first forward of each kind compiles its pipelines
      const warm = modelDenoiser(model, { cache: s.cache });
      await generate(warm, [prompt], cfg.pad_token_id, cfg.max_sequence_length, { ...gen, steps: 2 });
      warm.dispose();
      o.log(`${tag}: sampling (${s.name}), ${gen.steps} steps`);
      const den = modelDenoiser(model, { cache: s.cache });
      const tokens: number[] = [],
        headRows: number[] = [];
      const started = performance.now();
      const counted: Denoiser = {
        predict: async (a) => {
          const [t0, h0] = [den.tokensEvaluated, den.headRows];
          const r = await den.predict(a);
          tokens.push(den.tokensEvaluated - t0);
          headRows.push(den.headRows - h0);
          // a real-size forward takes tens of seconds on a CPU adapter: say where the run is
          const el = (performance.now() - started) / 1000;
          o.log(
            `${tag}: ${s.name}: forward ${tokens.length}/${gen.steps} (${tokens.at(-1)} tokens), ${el.toFixed(0)} s, ${(el / tokens.length).toFixed(1)} s/forward`,
          );
          return r;
        },
      };
      const r = await generate(counted, [prompt], cfg.pad_token_id, cfg.max_sequence_length, gen);
      den.dispose();
      runs.push({ name: s.name, seconds: r.seconds, nfe: r.nfe, tokens, headRows, flops: denoiserFlops(cfg, den) });
      o.log(`${tag}: ${s.name}: ${r.nfe} forwards in ${r.seconds.toFixed(1)} s`);
    }
    const hostPeak = rssReset ? peakRssBytes() : process.memoryUsage().rss;
    let paramBytes = 0;
    for (const t of model.params.params.values()) paramBytes += t.byteLength;
    const poolPeak = dev.pool.stats.highWaterBytes;

    o.log(`${tag}: timing the engine's matmul at the model's shapes`);
    const shapes = matmulShapes(model);
    const head = shapes.length - 1; // the LM head runs on the block's rows, the rest on every token
    const rows = [...new Set(runs.flatMap((r) => [...r.tokens, ...r.headRows]))].sort((a, b) => b - a);
    const secs = new Map<number, number[]>();
    for (const M of rows) secs.set(M, await timeShapes(dev, model, M, o.repeat));
    // what the run's matmuls take at the measured rates: its forwards' shapes, one by one
    const matmulSeconds = (r: (typeof runs)[number]) =>
      r.tokens.reduce(
        (a, M, f) =>
          a +
          secs.get(r.headRows[f])![head] +
          shapes.reduce((b, s, i) => b + (i === head ? 0 : s.uses * secs.get(M)![i]), 0),
        0,
      );
    const matmulWork = (r: (typeof runs)[number]) =>
      r.tokens.reduce((a, M, f) => a + M * mm.perToken + r.headRows[f] * mm.perHeadRow, 0);

    const memory = {
      host_rss_peak_gib: hostPeak / GiB,
      host_rss_is_peak: rssReset,
      gpu_params_gib: paramBytes / GiB,
      gpu_pool_high_water_gib: poolPeak / GiB,
    };
    const out: BenchResult[] = [
      {
        case: `${tag} load`,
        shape: `${fmtCount(ck.params)} params, ${fmtBytes(ck.bytes)} bf16 in ${dir}`,
        ms_median: loadSeconds * 1000,
        ms_min: NaN,
        ms_max: NaN,
        compile_ms: 0,
        verified: 'random weights: nothing to check against',
        peer: {},
        extra: {
          load_seconds: loadSeconds,
          checkpoint_reused: ck.reused,
          checkpoint_write_seconds: ck.seconds,
          ...memory,
        },
      },
    ];
    for (const r of runs) {
      const spf = r.seconds / r.nfe;
      const mmRate = matmulWork(r) / matmulSeconds(r);
      const modelRate = r.flops / r.seconds;
      out.push({
        case: `${tag} sample ${r.name}`,
        shape: `prompt ${SCALE_SAMPLING.promptLength}, gen ${gen.genLength}, block ${gen.blockLength}, steps ${gen.steps}`,
        ms_median: spf * 1000,
        ms_min: NaN,
        ms_max: NaN,
        compile_ms: 0,
        gflops: modelRate / 1e9,
        verified: 'forward checked against the CPU model by the test suite (model/llada.test.ts)',
        peer: {},
        extra: {
          nfe: r.nfe,
          seconds: r.seconds,
          seconds_per_forward: spf,
          tokens_per_sec: gen.genLength / r.seconds,
          flops_per_forward: r.flops / r.nfe,
          model_gflops: modelRate / 1e9,
          matmul_gflops_same_shapes: mmRate / 1e9,
          share_of_matmul: modelRate / mmRate,
          ...memory,
        },
      });
    }
    for (const M of rows) {
      const t = secs.get(M)!;
      const per = Object.fromEntries(
        shapes.map((s, i) => [
          `${s.name} [${M},${s.w.shape[1]}]x[${s.w.shape.join(',')}]^T`,
          (2 * M * s.w.size) / t[i] / 1e9,
        ]),
      );
      const total = shapes.reduce((a, s, i) => a + s.uses * t[i], 0);
      out.push({
        case: `${tag} matmul at the model's shapes, ${M} rows`,
        shape: `${shapes.map((s) => `${s.uses}x [${s.w.shape.join(',')}]`).join(' + ')} (${shapes[0].w.dtype} weights)`,
        ms_median: total * 1000,
        ms_min: NaN,
        ms_max: NaN,
        compile_ms: 0,
        gflops: (M * (mm.perToken + mm.perHeadRow)) / total / 1e9,
        verified: 'matmul checked against the CPU reference by the test suite (kernels/matmul)',
        peer: {},
        extra: { gflops_by_shape: per },
      });
    }
    return out;
  } finally {
    model.dispose();
  }
}
