// One training run in its run folder: the folder opened and locked (train/run-folder.ts decides
// whether the run starts fresh or continues), resolved config saved, the loop with progress (a live
// line on a TTY, plain lines otherwise), metrics.jsonl, the loss-curve SVG refreshed at each
// validation, checkpoints with keep_last pruning, a checkpoint on Ctrl-C / SIGTERM, and
// summary.json. Returns the trained model for the caller to evaluate.
// Deliberately not here: sampling/accuracy (the CLI composes train and sample).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime } from '../engine/runtime.ts';
import { InterruptedError } from '../engine/errors.ts';
import type { LLaDAModel } from '../model/llada.ts';
import type { Tokenizer } from '../model/tokenizer.ts';
import { resolvedConfigToToml, type TrainConfig } from './config.ts';
import { adoptTrainingIds, buildRun, checkRunFits } from './setup.ts';
import { DataOrder } from './data-order.ts';
import { describeDataset, type TokenizedDataset } from './data.ts';
import { cleanStaleTemps, newestCheckpoint } from './checkpoint-dir.ts';
import { openRunFolder, type RunFolder } from './run-folder.ts';
import { withGracefulStop } from './interrupt.ts';
import { loadCheckpoint, loadLoraCheckpoint, saveCheckpoint, type TrainerState } from './state.ts';
import { totalSteps, trainLoop } from './trainer.ts';
import {
  appendMetrics,
  formatLogLine,
  lossPointsFromMetrics,
  readMetrics,
  renderLossSvg,
  truncateMetricsAfter,
  writeFileAtomic,
} from './metrics.ts';
import type { TaskName } from './tasks.ts';

export interface RunResult {
  runDir: string;
  model: LLaDAModel;
  tokenizer: Tokenizer;
  task: TaskName | null;
  val: TokenizedDataset | null;
  summary: Record<string, unknown>;
}

/**
 * Trains in the run folder `o.folder` (opened by the caller, who releases it after writing the
 * summary), or in one opened here for `cfg` and released before returning.
 */
export async function runTraining(
  rt: Runtime,
  cfg: TrainConfig,
  o: { configPath: string | null; out?: string; folder?: RunFolder; log: (line: string, live?: boolean) => void },
): Promise<RunResult> {
  const folder = o.folder ?? openRunFolder(cfg, { out: o.out, log: o.log });
  try {
    return await trainIn(rt, cfg, folder, o);
  } finally {
    if (!o.folder) folder.release();
  }
}

async function trainIn(
  rt: Runtime,
  cfg: TrainConfig,
  folder: RunFolder,
  o: { configPath: string | null; log: (line: string, live?: boolean) => void },
): Promise<RunResult> {
  const runDir = folder.dir;
  const plan = folder.plan;
  const resume = plan.kind === 'resume' ? plan.from : plan.kind === 'complete' ? newestCheckpoint(runDir) : undefined;
  checkRunFits(rt, cfg);
  const configToml = resolvedConfigToToml(cfg);
  if (plan.kind !== 'complete') {
    rmSync(join(runDir, 'summary.json'), { force: true }); // a continued run has no results until it ends
    writeFileAtomic(join(runDir, 'config.toml'), configToml);
  }
  if (plan.kind === 'resume' && plan.changed.length) o.log(`resuming with changed ${plan.changed.join(', ')}`);
  const stale = cleanStaleTemps(runDir);
  if (stale.length) o.log(`removed ${stale.length} incomplete checkpoint folder(s) left by an interrupted save`);

  const parts = await buildRun(rt, cfg, o.configPath);
  let model = parts.model;
  o.log(describeDataset(parts.train));
  if (parts.val) o.log(describeDataset(parts.val));
  model.checkIds([parts.train.maxId], `${parts.train.source}`);
  let startStep = 0;
  let data = new DataOrder(parts.train.nRows, cfg.dataset.shuffle_seed);
  if (resume) {
    let state: TrainerState;
    if (cfg.peft) {
      // The frozen base is already loaded: only the adapters and their moments come from the checkpoint.
      const pf = cfg.peft;
      state = loadLoraCheckpoint(resume.path, model, { dropout: pf.dropout, dropoutPosition: pf.dropout_position });
    } else {
      model.dispose();
      const ck = await loadCheckpoint(resume.path, rt);
      model = ck.model;
      state = ck.state;
    }
    adoptTrainingIds(model, parts.tokenizer, parts.maskId);
    startStep = state.step;
    data = new DataOrder(parts.train.nRows, cfg.dataset.shuffle_seed, state.data_position);
    o.log(`resumed from ${resume.path} (step ${startStep})`);
  }
  const metricsPath = join(runDir, cfg.logging.metrics_file);
  if (resume) truncateMetricsAfter(metricsPath, startStep);
  else writeFileAtomic(metricsPath, '');
  const maxSteps = totalSteps(cfg, parts.train);
  const lora = model.lora
    ? ` (frozen, ${model.dtype}), LoRA on ${model.lora.modules.size} modules: ${model.lora.count.toLocaleString('en')} trainable`
    : '';
  o.log(
    `model: ${model.params.count.toLocaleString('en')} parameters${lora}; ${maxSteps} steps of ${cfg.step_scheduler.global_batch_size} x ${parts.train.T} tokens; run folder ${runDir}`,
  );
  const plot = () => {
    if (!cfg.logging.plot) return;
    writeFileAtomic(
      join(runDir, cfg.logging.plot_file),
      renderLossSvg(lossPointsFromMetrics(readMetrics(metricsPath)), {
        title: `${cfg.name}: MDLM loss`,
        logY: cfg.logging.plot_log_y,
      }),
    );
  };
  let lastVal: number | null = null;
  let lastCheckpoint = null as string | null; // set in the checkpoint hook
  const t0 = performance.now();
  const notify = (sig: string) =>
    o.log(`${sig}: finishing this step and saving a checkpoint (press Ctrl-C again to quit at once)`);
  const res = await withGracefulStop(notify, (stopRequested) =>
    trainLoop({
      cfg,
      stopRequested,
      model,
      train: parts.train,
      val: parts.val,
      maskId: parts.maskId,
      startStep,
      data,
      hooks: {
        onLog(e) {
          const eta = ((maxSteps - e.step) * e.stepMs) / 1000;
          o.log(formatLogLine({ ...e, etaSec: eta, gpuBytes: rt.pool.stats.highWaterBytes }), e.step !== maxSteps);
          appendMetrics(metricsPath, {
            event: 'train',
            step: e.step,
            loss: e.loss,
            lr: e.lr,
            ms_per_step: e.stepMs,
            tokens_per_sec: e.tokensPerSec,
          });
        },
        onValidate(step, loss) {
          lastVal = loss;
          o.log(`step ${step}/${maxSteps} | val loss ${loss.toFixed(4)}`);
          appendMetrics(metricsPath, { event: 'val', step, loss });
          plot();
        },
        async onCheckpoint(step, d, loss) {
          const path = await saveCheckpoint(
            runDir,
            model,
            { step, data_position: d.position, loss, seed: cfg.seed },
            {
              dtype: cfg.checkpoint.save_dtype,
              configToml,
              keepLast: cfg.checkpoint.keep_last,
              lora: cfg.peft && {
                r: cfg.peft.dim,
                alpha: cfg.peft.alpha,
                dropout: cfg.peft.dropout,
                base: cfg.model.path!,
              },
            },
          );
          lastCheckpoint = path;
          o.log(`checkpoint ${path}`);
        },
      },
    }),
  );
  plot();
  if (res.interrupted) {
    model.dispose();
    const saved = lastCheckpoint
      ? `checkpoint ${lastCheckpoint}; run the same command again to continue from it`
      : 'nothing saved (checkpoint.enabled = false)';
    throw new InterruptedError(
      `interrupted by ${res.interrupted.signal} after step ${res.interrupted.step}/${maxSteps}: ${saved}`,
      res.interrupted.signal,
    );
  }
  if (startStep >= maxSteps && res.steps === 0)
    o.log(`nothing to do: the run is already at step ${startStep}/${maxSteps}`);
  const summary: Record<string, unknown> = {
    name: cfg.name,
    steps: startStep + res.steps,
    train_loss: Number.isFinite(res.lastLoss) ? res.lastLoss : null,
    val_loss: lastVal,
    tokens_per_sec: res.tokensPerSec,
    wall_seconds: (performance.now() - t0) / 1000,
    parameters: model.params.count,
  };
  return { runDir, model, tokenizer: model.tokenizer ?? parts.tokenizer, task: parts.task, val: parts.val, summary };
}

export function writeSummary(runDir: string, summary: Record<string, unknown>): void {
  writeFileAtomic(join(runDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
}
