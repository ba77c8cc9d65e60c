// Learning-rate schedule: linear warmup from init_lr to lr over lr_warmup_steps, then cosine or
// linear decay to min_lr at lr_decay_steps (default max_steps), or constant. Field names and
// semantics follow NeMo's lr_scheduler (Megatron's OptimizerParamScheduler: lr_warmup_steps,
// lr_decay_steps, lr_decay_style, init_lr, min_lr as absolute values). Cosine:
// min + (max - min) * (1 + cos(pi * progress)) / 2 (Loshchilov & Hutter 2017, SGDR, eq. 5, one cycle).
// Steps are 1-based optimizer updates (the "step 120/5000" of the log line); step 0 gives init_lr
// when there is a warmup.
// Deliberately a pure function: no scheduler object, nothing to save in a checkpoint.
import type { TrainConfig } from './config-schema.ts';

export type DecayStyle = 'cosine' | 'linear' | 'constant';

export interface LrSchedule {
  lr: number; // peak learning rate (optimizer.lr)
  initLr: number; // learning rate at step 0, where warmup starts
  minLr: number; // learning rate reached at the end of decay
  warmupSteps: number;
  decaySteps: number; // step at which decay ends; schedules clamp at minLr after it
  decayStyle: DecayStyle;
}

export function lrAt(step: number, s: LrSchedule): number {
  if (step < 0) throw new RangeError(`lr schedule: step ${step} < 0`);
  if (s.warmupSteps > 0 && step <= s.warmupSteps) {
    return s.initLr + ((s.lr - s.initLr) * step) / s.warmupSteps;
  }
  if (s.decayStyle === 'constant') return s.lr;
  const span = s.decaySteps - s.warmupSteps;
  if (span <= 0) return s.lr; // warmup takes the whole run: no room to decay
  if (step >= s.decaySteps) return s.minLr;
  const progress = (step - s.warmupSteps) / span;
  const frac = s.decayStyle === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
  return s.minLr + (s.lr - s.minLr) * frac;
}

/** The schedule a config describes, for a run of `maxSteps` optimizer steps. */
export function lrScheduleFromConfig(
  cfg: Pick<TrainConfig, 'optimizer' | 'lr_scheduler'>,
  maxSteps: number,
): LrSchedule {
  const l = cfg.lr_scheduler;
  return {
    lr: cfg.optimizer.lr,
    initLr: l.init_lr,
    minLr: l.min_lr,
    warmupSteps: l.lr_warmup_steps,
    decaySteps: l.lr_decay_steps > 0 ? l.lr_decay_steps : maxSteps,
    decayStyle: l.lr_decay_style,
  };
}
