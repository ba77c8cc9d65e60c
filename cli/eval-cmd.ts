// `dllm-wgpu eval`: validation MDLM loss of a checkpoint on a JSONL file and, for prompt/response
// data, LLaDA's Monte Carlo estimate of log p(answer | prompt) per example (mean reported); or, with
// --task, held-out exact match of a builtin task, as `train` reports it (cli/task-eval.ts).
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { DeviceOptions } from '../engine/device.ts';
import { UserError } from '../engine/errors.ts';
import { action, loadCheckpointModel, log, parseIntOpt, withDevice, DTYPE_HELP, parseDtypeOpt } from './run.ts';
import { resolveCheckpointArg } from './checkpoint-arg.ts';
import type { ParamDType } from '../model/params.ts';
import { TASK_NAMES, type TaskName } from '../train/task-names.ts';

interface EvalFlags {
  checkpoint: string;
  adapter?: string;
  dtype: ParamDType | 'auto';
  data?: string;
  task?: TaskName;
  splitSeed: number;
  nHeldout: number;
  seqLength: number;
  batchSize: number;
  mcNum: number;
  mcBatch: number;
  maxExamples: number;
  seed: number;
  json: boolean;
}

export function registerEval(program: Command, deviceOpts: () => DeviceOptions): void {
  program
    .command('eval')
    .description(
      'validation MDLM loss of a checkpoint, and Monte Carlo log p(answer | prompt) for prompt/response data;\n' +
        'or (--task) held-out exact-match accuracy on a builtin task, per gen length and stratum',
    )
    .requiredOption(
      '--checkpoint <dir>',
      'model folder (config.json, safetensors, tokenizer.json), or a training run folder (its newest complete checkpoint)',
    )
    .option('--data <file.jsonl>', 'JSONL: {"text"}, {"prompt","response"} or {"messages"} records')
    .option(
      '--task <name>',
      `instead of --data: sample the held-out prompts of a builtin task (${TASK_NAMES.join(', ')}) and print exact match`,
    )
    .option(
      '--split-seed <n>',
      "--task: the held-out split's seed, the training config's dataset.split_seed",
      parseIntOpt('--split-seed', 0),
      1234,
    )
    .option(
      '--n-heldout <n>',
      "--task: the held-out split's size, the training config's dataset.n_heldout",
      parseIntOpt('--n-heldout', 1),
      500,
    )
    .option(
      '--seq-length <n>',
      'tokens per row (rows are padded with EOS to this length)',
      parseIntOpt('--seq-length', 2),
      128,
    )
    .option('--batch-size <n>', 'rows per forward pass for the loss', parseIntOpt('--batch-size', 1), 16)
    .option(
      '--mc-num <n>',
      'Monte Carlo samples per example for log-likelihood (0 = skip)',
      parseIntOpt('--mc-num', 0),
      128,
    )
    .option(
      '--mc-batch <n>',
      'Monte Carlo samples per forward pass (divides --mc-num)',
      parseIntOpt('--mc-batch', 1),
      16,
    )
    .option(
      '--max-examples <n>',
      'log-likelihood (--task: sampling) on the first N examples only (0 = all)',
      parseIntOpt('--max-examples', 0),
      0,
    )
    .option('--seed <n>', 'seed of the masks', parseIntOpt('--seed', 0), 0)
    .option('--dtype <type>', DTYPE_HELP, parseDtypeOpt, 'auto')
    .option(
      '--adapter <dir>',
      'apply a LoRA adapter (PEFT layout: adapter_config.json + adapter_model.safetensors) without merging',
    )
    .option('--json', 'print the result as JSON', false)
    .action(
      action(async (o: EvalFlags) => {
        if ((o.data === undefined) === (o.task === undefined)) {
          throw new UserError(
            'eval needs one of --data <file.jsonl> (loss, log-likelihood) or --task <name> (accuracy)',
          );
        }
        if (o.task !== undefined && !(TASK_NAMES as readonly string[]).includes(o.task)) {
          throw new UserError(`--task: expected one of ${TASK_NAMES.join(', ')}, got "${o.task}"`);
        }
        const ck = resolveCheckpointArg(o.checkpoint);
        if (o.data !== undefined && !existsSync(o.data)) throw new UserError(`--data file not found: ${o.data}`);
        if (ck.note) log(ck.note);
        const [{ endTokenIds }, { defaultTrainConfig }, { loadJsonlDataset, readRow }] = await Promise.all([
          import('../model/tokenizer.ts'),
          import('../train/config-schema.ts'),
          import('../train/data.ts'),
        ]);
        const [{ validationLoss }, { logLikelihood }, { checkBatchFits }] = await Promise.all([
          import('../train/trainer.ts'),
          import('../train/likelihood.ts'),
          import('../model/memory-plan.ts'),
        ]);
        await withDevice(deviceOpts(), async (dev) => {
          const model = await loadCheckpointModel(dev, ck, o);
          try {
            const tok = model.tokenizer;
            if (!tok) throw new UserError(`${ck.dir} has no tokenizer.json; eval needs it to encode prompts`);
            if (o.task) {
              const { evaluateTask } = await import('./task-eval.ts');
              const r = await evaluateTask(model, tok, o.task, {
                splitSeed: o.splitSeed,
                nHeldout: o.nHeldout,
                limit: o.maxExamples,
              });
              if (o.json) {
                const out = { checkpoint: ck.dir, adapter: o.adapter ?? ck.adapter ?? null, task: o.task, ...r };
                process.stdout.write(JSON.stringify(out) + '\n');
              }
              return;
            }
            const data = o.data!;
            if (o.seqLength > model.config.max_sequence_length) {
              throw new UserError(
                `--seq-length ${o.seqLength} exceeds the model's max_sequence_length ${model.config.max_sequence_length}`,
              );
            }
            checkBatchFits(
              model,
              { rows: Math.max(o.batchSize, o.mcBatch), seq: o.seqLength },
              'eval',
              'lower --batch-size, --mc-batch or --seq-length',
            );
            const ds = loadJsonlDataset(data, tok, {
              seqLength: o.seqLength,
              format: 'auto',
              truncation: 'truncate',
              supervisePadding: true,
              useChatTemplate: false,
              skipMalformed: false,
            });
            model.checkIds([ds.maxId], data);
            const cfg = defaultTrainConfig();
            cfg.seed = o.seed;
            cfg.step_scheduler.local_batch_size = o.batchSize;
            const maskId = model.config.mask_token_id;
            const loss = await validationLoss(model, ds, cfg, maskId);
            const result: Record<string, unknown> = {
              checkpoint: ck.dir,
              data,
              rows: ds.nRows,
              val_loss: loss,
            };
            log(`validation MDLM loss: ${loss.toFixed(4)} over ${ds.nRows} rows`);
            if (o.mcNum > 0 && ds.format !== 'text') {
              const n = o.maxExamples > 0 ? Math.min(o.maxExamples, ds.nRows) : ds.nRows;
              const lls: number[] = [];
              for (let r = 0; r < n; r++) {
                const { ids: row, prompt: promptMask } = readRow(ds, r);
                const prompt: number[] = [],
                  answer: number[] = [];
                // the answer runs through its end token; the EOS padding after it is not scored
                const ends = endTokenIds(tok);
                for (let i = 0; i < ds.T; i++) {
                  if (promptMask[i]) prompt.push(row[i]);
                  else if (!ends.includes(answer[answer.length - 1] ?? -1)) answer.push(row[i]);
                }
                lls.push(
                  await logLikelihood(model, prompt, answer, r, {
                    mcNum: o.mcNum,
                    batchSize: o.mcBatch,
                    seed: o.seed,
                    maskId,
                  }),
                );
                if ((r + 1) % 10 === 0) log(`log-likelihood: ${r + 1}/${n}`);
              }
              const mean = lls.reduce((a, b) => a + b, 0) / lls.length;
              result.log_likelihood = { mean, per_example: lls, mc_num: o.mcNum };
              log(`mean log p(answer | prompt): ${mean.toFixed(4)} over ${lls.length} examples (mc ${o.mcNum})`);
            }
            process.stdout.write(o.json ? JSON.stringify(result) + '\n' : `val_loss ${loss.toFixed(6)}\n`);
          } finally {
            model.dispose();
          }
        });
      }),
    );
}
