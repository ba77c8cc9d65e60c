// The MDLM training loop (LLaDA GUIDELINES; NeMo AutoModel train_ft.py with mode mdlm): per
// optimizer step, `accum` micro-batches are corrupted on the host (train/mdlm.ts, keyed by
// (seed, step, sample) so a resumed run draws the same masks), run forward + backward on the GPU
// with the loss weights already normalised over the whole step, then global-norm clipping and one
// AdamW dispatch per parameter group, all without a readback. The loss is read back only at log
// intervals, before validation and before every checkpoint (a NaN/Inf stops the run there, so the
// last checkpoint on disk is always a good one).
// Deliberately not here: building the model/data (setup.ts), checkpoint contents (state.ts),
// sampling (sample/: the CLI composes the two).
import type { Runtime } from '../engine/runtime.ts';
import { tensor, zeros, type Tensor } from '../engine/tensor.ts';
import { backward, noGradAsync } from '../engine/autograd.ts';
import { UserError } from '../engine/errors.ts';
import { axpyInPlace } from '../kernels/elementwise/elementwise.ts';
import { adamwStep, clipScale, gradNormSquared } from '../kernels/adamw/adamw.ts';
import type { LLaDAModel } from '../model/llada.ts';
import type { TrainConfig } from './config.ts';
import { DataOrder, makeBatch, sequentialBatches, stepsForEpochs, type Batch } from './data-order.ts';
import type { TokenizedDataset } from './data.ts';
import { VALIDATION_STEP, foldNormalizer, mdlmCorrupt, stepNormalizer } from './mdlm.ts';
import { drawGenLength, layoutForGenLength } from './gen-length.ts';
import { lrAt, lrScheduleFromConfig } from './schedule.ts';
import type { StepEvent } from './metrics.ts';

export interface LoopHooks {
  onLog?(e: StepEvent): void;
  onValidate?(step: number, valLoss: number): void | Promise<void>;
  onCheckpoint?(step: number, data: DataOrder, loss: number): Promise<void>;
}

export interface LoopOptions {
  cfg: TrainConfig;
  model: LLaDAModel;
  train: TokenizedDataset;
  val: TokenizedDataset | null;
  maskId: number;
  startStep: number;
  data: DataOrder;
  hooks: LoopHooks;
  /** Polled after each step: a signal asked the run to stop (it then saves a checkpoint and returns). */
  stopRequested?: () => 'SIGINT' | 'SIGTERM' | null;
}

export interface LoopResult {
  lastLoss: number;
  steps: number;
  tokensPerSec: number;
  seconds: number;
  /** Set when stopRequested ended the loop early, after the checkpoint of `step` (if enabled). */
  interrupted?: { signal: 'SIGINT' | 'SIGTERM'; step: number };
}

export function totalSteps(cfg: TrainConfig, train: TokenizedDataset): number {
  const s = cfg.step_scheduler;
  if (s.max_steps > 0) return s.max_steps;
  if (s.num_epochs > 0) return stepsForEpochs(train.nRows, s.global_batch_size, s.num_epochs);
  throw new UserError('step_scheduler: set max_steps or num_epochs');
}

/**
 * The GPU loss of one micro-batch: sum_i w_i CE_i over its (B*T) positions, the key mask (rows
 * shorter than T under dataset.gen_length) hiding each row's padding from attention.
 */
export function batchLoss(model: LLaDAModel, batch: Batch, noisy: Int32Array, weights: Float32Array): Tensor {
  const rt = model.rt;
  const targets = tensor(rt, batch.inputIds, [batch.B * batch.T], 'i32', 'targets');
  const w = tensor(rt, weights, [batch.B * batch.T], 'f32', 'loss_weights');
  return model.loss({ ids: noisy, B: batch.B, T: batch.T, keyMask: batch.keyMask }, targets, w);
}

/**
 * The step's loss on the GPU: sum over micro-batches of sum_i w_i CE_i (weights pre-normalised).
 * `dropout` keys the LoRA dropout masks of this micro-batch (model/lora.ts).
 */
function microStep(
  model: LLaDAModel,
  batch: Batch,
  noisy: Int32Array,
  weights: Float32Array,
  lossAcc: Tensor,
  dropout: { seed: number; step: number; micro: number },
): void {
  if (model.lora) model.lora.dropoutKey = dropout;
  try {
    model.rt.tidy(() => {
      const loss = batchLoss(model, batch, noisy, weights);
      backward(loss);
      axpyInPlace(lossAcc, loss, 1);
    });
  } finally {
    if (model.lora) model.lora.dropoutKey = null;
  }
}

/** Micro-batch `micro` of step `step` as training sees it: laid out for a drawn gen length when configured. */
export function stepBatch(cfg: TrainConfig, batch: Batch, step: number, micro: number): Batch {
  const [min, max] = cfg.dataset.gen_length;
  if (max === 0) return batch;
  return layoutForGenLength(batch, drawGenLength(cfg.seed, step, micro, { min, max }));
}

/** Validation MDLM loss with the fixed VALIDATION_STEP corruption (same masks every time). */
export async function validationLoss(
  model: LLaDAModel,
  ds: TokenizedDataset,
  cfg: TrainConfig,
  maskId: number,
): Promise<number> {
  const rt = model.rt;
  const B = cfg.step_scheduler.local_batch_size;
  const batches = [...sequentialBatches(ds, B)].map((b, i) => stepBatch(cfg, b, VALIDATION_STEP, i));
  const norm = stepNormalizer(cfg.dllm.normalization, batches);
  return noGradAsync(() =>
    rt.scope(async () => {
      const acc = zeros(rt, [1], 'f32', 'val_loss');
      batches.forEach((batch, i) => {
        const c = mdlmCorrupt(batch, {
          seed: cfg.seed,
          step: VALIDATION_STEP,
          sampleOffset: i * B,
          maskId,
          eps: cfg.dllm.eps,
        });
        const w = foldNormalizer(c, batch, norm);
        rt.tidy(() => axpyInPlace(acc, batchLoss(model, batch, c.noisyIds, w), 1));
      });
      return (await acc.read())[0];
    }),
  );
}

export class NonFiniteLossError extends UserError {}

export async function trainLoop(o: LoopOptions): Promise<LoopResult> {
  const { cfg, model, train, val, maskId, data, hooks } = o;
  const rt: Runtime = model.rt;
  const s = cfg.step_scheduler;
  if (s.global_batch_size % s.local_batch_size !== 0) {
    throw new UserError(
      `step_scheduler.global_batch_size ${s.global_batch_size} is not a multiple of local_batch_size ${s.local_batch_size}`,
    );
  }
  const accum = s.global_batch_size / s.local_batch_size;
  const maxSteps = totalSteps(cfg, train);
  const sched = lrScheduleFromConfig(cfg, maxSteps);
  const [beta1, beta2] = cfg.optimizer.betas;
  // Recomputation applies to this model whichever way it was built (fresh, loaded, resumed).
  model.recompute = cfg.distributed.activation_checkpointing;
  // Under LoRA only the adapters train: the base has no gradients and no moments.
  const P = model.lora ? model.lora.params : model.params;
  P.enableGrad();
  // One AdamW dispatch per arena chunk and weight-decay group (matrices decayed, norm weights not).
  const views = P.optimizerRanges().map((r) => ({ ...r, wd: r.decay ? cfg.optimizer.weight_decay : 0 }));
  const lossAcc = zeros(rt, [1], 'f32', 'loss_acc').keep();
  let lastLoss = NaN;
  let since = 0;
  let tokensSince = 0; // rows x positions trained since the last log (rows vary in length with gen_length)
  let tokensTotal = 0;
  let t0 = performance.now();
  const tStart = performance.now();
  let stepsDone = 0;
  let interrupted: LoopResult['interrupted'];

  const readLoss = async (step: number): Promise<number> => {
    const sum = (await lossAcc.read())[0];
    const loss = sum / Math.max(since, 1);
    if (!Number.isFinite(loss)) {
      throw new NonFiniteLossError(
        `loss became ${loss} by step ${step}; training stopped. The last checkpoint on disk is from before this ` +
          'interval: lower optimizer.lr, raise lr_scheduler.lr_warmup_steps or set clip_grad_norm.max_norm',
      );
    }
    return loss;
  };

  try {
    for (let step = o.startStep + 1; step <= maxSteps; step++) {
      const batches: Batch[] = [];
      for (let k = 0; k < accum; k++) {
        batches.push(stepBatch(cfg, makeBatch(train, data.take(s.local_batch_size)), step, k));
        tokensSince += batches[k].B * batches[k].T;
      }
      const norm = stepNormalizer(cfg.dllm.normalization, batches);
      P.zeroGrads();
      batches.forEach((batch, k) => {
        const c = mdlmCorrupt(batch, {
          seed: cfg.seed,
          step,
          sampleOffset: k * s.local_batch_size,
          maskId,
          eps: cfg.dllm.eps,
        });
        microStep(model, batch, c.noisyIds, foldNormalizer(c, batch, norm), lossAcc, {
          seed: cfg.seed,
          step,
          micro: k,
        });
      });
      const lr = lrAt(step, sched);
      rt.tidy(() => {
        const scaleT =
          cfg.clip_grad_norm.max_norm > 0
            ? clipScale(gradNormSquared(P.gradChunks()), cfg.clip_grad_norm.max_norm)
            : undefined;
        for (const g of views) {
          adamwStep(g.p, g.g, g.m, g.v, {
            lr,
            beta1,
            beta2,
            eps: cfg.optimizer.eps,
            weightDecay: g.wd,
            step,
            gradScale: scaleT,
          });
        }
      });
      // Phase boundary: submit the step, so the buffers it released return to the pool and the
      // next step reuses them (memory stays at one step's working set).
      rt.flush();
      since++;
      stepsDone++;
      const isLog = step % s.log_every_steps === 0 || step === maxSteps;
      const isVal = !!val && s.val_every_steps > 0 && (step % s.val_every_steps === 0 || step === maxSteps);
      const isCkpt =
        cfg.checkpoint.enabled && ((s.ckpt_every_steps > 0 && step % s.ckpt_every_steps === 0) || step === maxSteps);
      if (isLog || isVal || isCkpt) {
        lastLoss = await readLoss(step); // sync point: the only readback of a training step
        const ms = (performance.now() - t0) / since;
        const tokensPerSec = (tokensSince * 1000) / (performance.now() - t0);
        hooks.onLog?.({ step, maxSteps, loss: lastLoss, lr, stepMs: ms, tokensPerSec });
        lossAcc.write([0]);
        since = 0;
        tokensTotal += tokensSince;
        tokensSince = 0;
        if (isVal) await hooks.onValidate?.(step, await validationLoss(model, val, cfg, maskId));
        if (isCkpt) await hooks.onCheckpoint?.(step, data, lastLoss);
        t0 = performance.now();
      }
      if (o.stopRequested) {
        // Let a pending signal handler run: between log intervals the loop never awaits otherwise.
        await new Promise((r) => setImmediate(r));
        const signal = o.stopRequested();
        if (signal) {
          const readBack = isLog || isVal || isCkpt;
          if (!readBack) lastLoss = await readLoss(step); // refuses to checkpoint a NaN/Inf state
          if (cfg.checkpoint.enabled && !isCkpt) await hooks.onCheckpoint?.(step, data, lastLoss);
          interrupted = { signal, step };
          break;
        }
      }
    }
  } finally {
    for (const g of views) [g.p, g.g, g.m, g.v].forEach((t) => t.dispose());
    lossAcc.dispose();
  }
  const seconds = (performance.now() - tStart) / 1000;
  return { lastLoss, steps: stepsDone, tokensPerSec: (tokensTotal + tokensSince) / seconds, seconds, interrupted };
}
