// Tests for the learning-rate schedule: exact values at the warmup and decay landmarks, and shape
// properties (bounded, non-increasing after warmup) for arbitrary settings.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { lrAt, lrScheduleFromConfig, type LrSchedule } from './schedule.ts';
import { DEFAULT_CONFIG_TOML, loadTrainConfig } from './config.ts';

const FC = { seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined, numRuns: 200 };
const s = (o: Partial<LrSchedule> = {}): LrSchedule => ({
  lr: 1e-3,
  initLr: 0,
  minLr: 1e-4,
  warmupSteps: 100,
  decaySteps: 1100,
  decayStyle: 'cosine',
  ...o,
});
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-15, `${a} != ${b}`);

test('linear warmup from init_lr to lr', () => {
  close(lrAt(0, s()), 0);
  close(lrAt(50, s()), 5e-4);
  close(lrAt(100, s()), 1e-3);
  close(lrAt(50, s({ initLr: 2e-4 })), 6e-4);
});

test('cosine: half way at the midpoint, min_lr at the end and after', () => {
  close(lrAt(600, s()), (1e-3 + 1e-4) / 2);
  close(lrAt(1100, s()), 1e-4);
  close(lrAt(5000, s()), 1e-4);
  close(lrAt(350, s()), 1e-4 + 9e-4 * 0.5 * (1 + Math.cos(Math.PI / 4)));
});

test('linear decay and constant', () => {
  close(lrAt(600, s({ decayStyle: 'linear' })), (1e-3 + 1e-4) / 2);
  close(lrAt(850, s({ decayStyle: 'linear' })), 1e-4 + 9e-4 * 0.25);
  close(lrAt(1000, s({ decayStyle: 'constant' })), 1e-3);
  close(lrAt(0, s({ warmupSteps: 0 })), 1e-3);
  close(lrAt(300, s({ warmupSteps: 2000 })), 1.5e-4); // warmup longer than the run: still warming up
});

test('after warmup the lr is non-increasing and within [min_lr, lr]', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 500 }),
      fc.integer({ min: 1, max: 5000 }),
      fc.constantFrom('cosine' as const, 'linear' as const, 'constant' as const),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (warmup, span, style, minFrac) => {
        const sched = s({ warmupSteps: warmup, decaySteps: warmup + span, decayStyle: style, minLr: 1e-3 * minFrac });
        let prev = Infinity;
        for (let k = warmup; k <= warmup + span + 10; k++) {
          const v = lrAt(k, sched);
          if (v > prev + 1e-18 || v < sched.minLr - 1e-18 || v > sched.lr + 1e-18) return false;
          prev = v;
        }
        return true;
      },
    ),
    FC,
  );
});

test('the default config warms up for 200 steps and decays to min_lr at max_steps', () => {
  const cfg = loadTrainConfig(DEFAULT_CONFIG_TOML, '<default>');
  const sched = lrScheduleFromConfig(cfg, cfg.step_scheduler.max_steps);
  close(lrAt(100, sched), cfg.optimizer.lr / 2);
  close(lrAt(200, sched), cfg.optimizer.lr);
  close(lrAt(cfg.step_scheduler.max_steps, sched), cfg.lr_scheduler.min_lr);
  assert.is(
    lrScheduleFromConfig({ ...cfg, lr_scheduler: { ...cfg.lr_scheduler, lr_decay_steps: 700 } }, 6000).decaySteps,
    700,
  );
});

test.run();
