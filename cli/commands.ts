// The `train` command (and the shared config loading). `train` with no file runs the embedded
// default: trains the small addition model from scratch, then samples the held-out prompts and
// prints exact-match accuracy per gen length and stratum (cli/task-eval.ts composes train/ and
// sample/, which never import each other). The last line, "accuracy <task> X%", is the held-out
// accuracy in the first layout (addition: the README's sample flags, gen length 4).
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../engine/errors.ts';
import { resolveCheckpointArg } from './checkpoint-arg.ts';
import type { DeviceOptions } from '../engine/device.ts';
import { action, log, parseDtypeOpt, parseIntOpt, readUserFile, withDevice } from './run.ts';
import { peftHelp } from '../train/config-peft.ts';
import { distributedHelp } from '../train/config-schema.ts';
import type { TrainConfig } from '../train/config.ts';
import { registerSample } from './sample-cmd.ts';
import { registerServe } from './serve-cmd.ts';
import { registerEval } from './eval-cmd.ts';
import { registerBench } from './bench-cmd.ts';
import { registerExportRecipe } from './export-recipe-cmd.ts';
import { RESUME_MAY_CHANGE } from '../train/resume-keys.ts';
import type { RunFolder } from '../train/run-folder.ts';
import type { LayoutScore } from './task-eval.ts';

export async function loadConfigFile(
  path: string | undefined,
  sets: string[],
  resume: boolean,
): Promise<{ cfg: TrainConfig; source: string | null }> {
  const { DEFAULT_CONFIG_TOML, loadTrainConfig } = await import('../train/config.ts');
  let text = DEFAULT_CONFIG_TOML;
  let source = '<embedded default>';
  if (path) {
    text = readUserFile(path, 'config file');
    source = path;
  }
  const overrides = resume ? [...sets, 'resume="auto"'] : sets;
  const cfg = loadTrainConfig(text, source, overrides);
  if (cfg.model.path) cfg.model.path = resolveModelPath(cfg.model.path);
  return { cfg, source: path ?? null };
}

/**
 * model.path as a model folder: a training run folder (runs/addition) becomes its newest complete
 * checkpoint, so a config can name the run it builds on whatever step that run ended at; the
 * resolved folder is what the run folder's config.toml and a LoRA adapter's base_model_name_or_path record.
 */
function resolveModelPath(path: string): string {
  if (!existsSync(path)) {
    throw new UserError(
      `model.path ${path} not found: give a model folder (config.json + safetensors) or a training run folder, ` +
        'and train that run first if it is one',
    );
  }
  const ck = resolveCheckpointArg(path);
  if (ck.adapter) {
    throw new UserError(
      `model.path ${path} is a LoRA adapter, not a model: merge it into its base first (dllm-wgpu merge) and train on that`,
    );
  }
  if (ck.note) log(`model.path: ${ck.note}`);
  return ck.dir;
}

/** A live progress line on a TTY (rewritten in place), plain lines otherwise. */
export function progressLogger(): (line: string, live?: boolean) => void {
  const tty = process.stderr.isTTY;
  let liveShown = false;
  return (line, live) => {
    if (tty && live) {
      process.stderr.write(`\r\x1b[2K${line}`);
      liveShown = true;
      return;
    }
    if (liveShown) process.stderr.write('\r\x1b[2K');
    liveShown = false;
    process.stderr.write(line + '\n');
  };
}

const collect = (v: string, prev: string[]) => [...prev, v];

function wrap(words: readonly string[], indent: string, width = 100): string {
  const lines: string[] = [];
  let cur = indent;
  for (const w of words) {
    if (cur.length + w.length + 2 > width && cur.trim()) {
      lines.push(cur.trimEnd());
      cur = indent;
    }
    cur += `${w}, `;
  }
  return [...lines, cur.replace(/, $/, '')].join('\n');
}

const TRAIN_HELP_AFTER = `
Run folder (--out): a new or empty folder starts a run; the same config again continues it from its
newest checkpoint, or reports it complete and prints its results; a different config is refused
unless --resume or --overwrite. One run per folder at a time (lock file .dllm-wgpu.lock).
Keys that may change on --resume (any other difference from the checkpoint's config is refused):
${wrap(RESUME_MAY_CHANGE, '  ')}
Ctrl-C / SIGTERM: the current step ends, a checkpoint is saved, exit 130 / 143; Ctrl-C twice quits at once.`;

export function register(program: Command, deviceOpts: () => DeviceOptions): void {
  program
    .command('train')
    .description(
      'train a LLaDA-style masked diffusion model (MDLM). With no CONFIG, the embedded default: a small model\n' +
        'learns 1-2 digit addition from scratch, then held-out exact-match accuracy is measured by sampling.',
    )
    .argument(
      '[config]',
      "TOML config (sections as NeMo's llada_sft.yaml: model, dllm, dataset, step_scheduler, optimizer, ...)",
    )
    .option('--set <key=value>', 'override a config key, e.g. --set optimizer.lr=1e-3 (repeatable)', collect, [])
    .option('--print-config', 'print the fully resolved config (with defaults) and exit', false)
    .option('--out <dir>', "run folder (default: the config's out, else runs/<name>)")
    .option(
      '--resume',
      'continue from the newest complete checkpoint in the run folder (resume = "auto"), also with a changed config ' +
        'where only the keys listed below differ',
      false,
    )
    .option('--overwrite', "delete the run folder's checkpoints, metrics and summary and start over", false)
    .option('--no-eval', 'skip the held-out exact-match sampling after training (builtin tasks)')
    .option('--eval-limit <n>', 'held-out prompts to sample for accuracy (0 = all)', parseIntOpt('--eval-limit', 0), 0)
    .option('--json', 'print summary.json to stdout at the end', false)
    .addHelpText('after', '\n' + peftHelp() + '\n\n' + distributedHelp())
    .action(
      action(
        async (
          path: string | undefined,
          o: {
            set: string[];
            printConfig: boolean;
            out?: string;
            resume: boolean;
            overwrite: boolean;
            eval: boolean;
            evalLimit: number;
            json: boolean;
          },
        ) => {
          const { cfg, source } = await loadConfigFile(path, o.set, o.resume);
          if (o.printConfig) {
            const { resolvedConfigToToml } = await import('../train/config.ts');
            const { trainingMemoryLine } = await import('../train/setup.ts');
            process.stdout.write(resolvedConfigToToml(cfg) + '\n' + trainingMemoryLine(cfg));
            return;
          }
          const logger = progressLogger();
          const { openRunFolder } = await import('../train/run-folder.ts');
          const folder = openRunFolder(cfg, { out: o.out, overwrite: o.overwrite, log: logger });
          try {
            if (folder.plan.kind === 'complete') return reprintResults(folder, cfg, o.json);
            await trainAndScore(cfg, source, folder, o, deviceOpts, logger);
          } finally {
            folder.release();
          }
        },
      ),
    )
    .addHelpText('after', TRAIN_HELP_AFTER);
  registerExportRecipe(program);
  program
    .command('merge')
    .description(
      'merge a LoRA adapter into its base: a full Hugging Face checkpoint with W + (alpha / r) B A, written\n' +
        'tensor by tensor in bounded memory on the CPU (no GPU needed)',
    )
    .requiredOption('--checkpoint <dir>', 'the base model folder (config.json + safetensors)')
    .requiredOption('--adapter <dir>', 'the LoRA adapter folder (adapter_config.json + adapter_model.safetensors)')
    .requiredOption('--out <dir>', 'the merged model folder to write')
    .option(
      '--dtype <type>',
      "weights' dtype: bfloat16 | float16 | float32 | auto (the base's own)",
      parseDtypeOpt,
      'auto',
    )
    .action(
      action(async (o: { checkpoint: string; adapter: string; out: string; dtype: string }) => {
        const { mergeAdapter } = await import('../model/lora-merge.ts');
        const t0 = performance.now();
        const r = await mergeAdapter(o.checkpoint, o.adapter, o.out, {
          dtype: o.dtype === 'auto' ? undefined : (o.dtype as 'f32' | 'bf16' | 'f16'),
        });
        log(`merged ${r.merged} adapted weights in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        process.stdout.write(`${o.out} (${r.dtype}): ${r.files.map((f) => f.split('/').at(-1)).join(', ')}\n`);
      }),
    );
  registerSample(program, deviceOpts);
  registerServe(program, deviceOpts);
  registerEval(program, deviceOpts);
  registerBench(program, deviceOpts);
}

interface TrainFlags {
  eval: boolean;
  evalLimit: number;
  json: boolean;
}

/** A finished run trained again with the same config: its results, from summary.json, as the run printed them. */
async function reprintResults(folder: RunFolder, cfg: TrainConfig, json: boolean): Promise<void> {
  const { formatLayoutScore } = await import('./task-eval.ts');
  const s = folder.plan.kind === 'complete' ? folder.plan.summary : {};
  log(
    `${folder.dir}: this run is complete (step ${String(s.steps)}); its results follow (--overwrite trains it again)`,
  );
  const task = cfg.validation_dataset.task;
  const layouts = (s.eval as { layouts?: LayoutScore[] } | undefined)?.layouts;
  const acc = (s.accuracy as Record<string, number> | undefined)?.[task ?? ''];
  if (task && Array.isArray(layouts)) for (const l of layouts) process.stdout.write(formatLayoutScore(task, l) + '\n');
  if (task && typeof acc === 'number') process.stdout.write(`accuracy ${task} ${(acc * 100).toFixed(1)}%\n`);
  else
    log(
      `train loss ${String(s.train_loss)}, validation loss ${String(s.val_loss)} (no accuracy: it ran with --no-eval)`,
    );
  if (json) process.stdout.write(JSON.stringify(s, null, 2) + '\n');
  log(`run folder: ${folder.dir}`);
}

async function trainAndScore(
  cfg: TrainConfig,
  source: string | null,
  folder: RunFolder,
  o: TrainFlags,
  deviceOpts: () => DeviceOptions,
  logger: (line: string, live?: boolean) => void,
): Promise<void> {
  const [{ runTraining, writeSummary }, { evaluateTask }] = await Promise.all([
    import('../train/run.ts'),
    import('./task-eval.ts'),
  ]);
  await withDevice(deviceOpts(), async (dev) => {
    log(`device: ${dev.facts.description || dev.facts.device}`);
    const r = await runTraining(dev, cfg, { configPath: source, folder, log: logger });
    const summary = { ...r.summary } as Record<string, unknown>;
    const vd = cfg.validation_dataset;
    if (o.eval && r.task && vd.task) {
      const varied = cfg.dataset.gen_length[1] > 0;
      Object.assign(
        summary,
        await evaluateTask(r.model, r.tokenizer, vd.task, {
          splitSeed: vd.split_seed,
          nHeldout: vd.n_heldout,
          limit: o.evalLimit,
          trainingSeqLength: varied ? undefined : vd.seq_length,
        }),
      );
    }
    writeSummary(r.runDir, summary);
    r.model.dispose();
    if (o.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    log(`run folder: ${r.runDir}`);
  });
}
