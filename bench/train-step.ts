// A training step as the benches run it (bench train's step and its LoRA / full fine-tuning figures, and
// `bench scale --lora`): an MDLM-shaped batch (random ids, every other position masked, loss
// weight 2 / N on the masked ones), forward with the fused loss where the head needs it, backward,
// global-norm clip and AdamW on whatever trains (the adapters under LoRA, every parameter
// otherwise), then a submit. Also the GPU bytes such a run holds, counted from the parameter stores.
// Deliberately not the trainer (train/trainer.ts): no data order, schedule or checkpoints.
import type { Runtime } from '../engine/runtime.ts';
import { tensor } from '../engine/tensor.ts';
import { backward } from '../engine/autograd.ts';
import { adamwStep, clipScale, gradNormSquared } from '../kernels/adamw/adamw.ts';
import type { LLaDAModel } from '../model/llada.ts';
import { addLora } from '../model/lora-io.ts';
import type { ParamStore } from '../model/params.ts';

/** The LoRA the benches train: rank 8 on the attention projections (NeMo's alpha 32), no dropout. */
export const BENCH_LORA = { modules: ['q_proj', 'k_proj', 'v_proj', 'attn_out'], dim: 8, alpha: 32 };

export function addBenchLora(model: LLaDAModel, seed = 1): void {
  addLora(model, {
    target_modules: BENCH_LORA.modules.map((m) => `*.${m}`),
    exclude_modules: [],
    match_all_linear: false,
    dim: BENCH_LORA.dim,
    alpha: BENCH_LORA.alpha,
    dropout: 0,
    dropoutPosition: 'post',
    init: 'xavier',
    seed,
  });
}

export interface BenchStepper {
  /** What trains: the adapters under LoRA, else the model's parameters. */
  P: ParamStore;
  /** Encode optimizer step k (no readback) and submit it. */
  step(k: number): void;
  dispose(): void;
}

/** A step over a fixed batch of B rows of T random token ids (drawn from `seed`). */
export function benchStepper(model: LLaDAModel, B: number, T: number, seed = 1): BenchStepper {
  const rt: Runtime = model.rt;
  const cfg = model.config;
  const P = model.lora ? model.lora.params : model.params;
  P.enableGrad();
  const ranges = P.optimizerRanges();
  const N = B * T;
  let s = seed >>> 0 || 1;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s);
  const avoid = new Set([cfg.mask_token_id, cfg.eos_token_id, cfg.pad_token_id]);
  const ids = Int32Array.from({ length: N }, () => {
    let id = rnd() % cfg.vocab_size;
    while (avoid.has(id)) id = rnd() % cfg.vocab_size;
    return id;
  });
  const noisy = ids.map((t, i) => (i % 2 ? cfg.mask_token_id : t));
  const w = Float32Array.from(noisy, (t) => (t === cfg.mask_token_id ? 2 / N : 0));
  return {
    P,
    step(k: number) {
      P.zeroGrads();
      rt.tidy(() => {
        const loss = model.loss({ ids: noisy, B, T }, tensor(rt, ids, [N], 'i32'), tensor(rt, w, [N]));
        backward(loss);
        const sc = clipScale(gradNormSquared(P.gradChunks()), 1);
        for (const r of ranges) {
          adamwStep(r.p, r.g, r.m, r.v, {
            lr: 1e-4,
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-8,
            weightDecay: r.decay ? 0.1 : 0,
            step: k,
            gradScale: sc,
          });
        }
      });
      rt.flush();
    },
    dispose() {
      for (const r of ranges) [r.p, r.g, r.m, r.v].forEach((t) => t.dispose());
    },
  };
}

/**
 * GPU bytes a training run holds outside the buffer pool: every parameter as stored (a frozen
 * base in its dtype, f32 adapters) and the gradients plus AdamW moments of what trains.
 */
export function trainingGpuBytes(model: LLaDAModel): { params: number; gradsAndMoments: number } {
  const base = model.params.memory();
  const lora = model.lora?.params.memory();
  return {
    params: base.paramBytes + (lora?.paramBytes ?? 0),
    gradsAndMoments: lora ? lora.trainingBytes : base.trainingBytes,
  };
}
