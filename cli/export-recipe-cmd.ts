// The `export-recipe` command: prints the NeMo AutoModel recipe equivalent to a training config
// (cli/export-recipe.ts) on stdout. With --data-dir, a builtin task's rows are written as JSONL
// first (each file into a temporary name, then renamed: nothing half-written) and the recipe
// points at them. No device is opened.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../engine/errors.ts';
import { action, log } from './run.ts';

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerExportRecipe(program: Command): void {
  program
    .command('export-recipe')
    .description(
      "print the NVIDIA NeMo AutoModel recipe (YAML) equivalent to a training config, to scale out on NeMo's " +
        'FSDP2 trainer: llada_sft.yaml shape, llada_lora.yaml with [peft] (NeMo PeftConfig keys; defaults dim 8, ' +
        'alpha 32, dropout 0.0 "post", lora_A_init "xavier"). With no CONFIG, the embedded default.',
    )
    .argument('[config]', 'TOML training config, as for `train`')
    .option('--set <key=value>', 'override a config key, as for `train` (repeatable)', collect, [])
    .option(
      '--data-dir <dir>',
      'builtin tasks: write the training / held-out rows as JSONL here and point the recipe at them',
    )
    .action(
      action(async (path: string | undefined, o: { set: string[]; dataDir?: string }) => {
        const [{ DEFAULT_CONFIG_TOML }, { loadRecipeInput }, { nemoRecipe }] = await Promise.all([
          import('../train/config.ts'),
          import('./recipe-input.ts'),
          import('./export-recipe.ts'),
        ]);
        if (path && !existsSync(path)) throw new UserError(`config file not found: ${path}`);
        const text = path ? readFileSync(path, 'utf8') : DEFAULT_CONFIG_TOML;
        const source = path ?? '<embedded default>';
        const input = loadRecipeInput(text, source, o.set);
        const files: Record<string, string> = {};
        if (o.dataDir) {
          const { taskExamples } = await import('../train/tasks.ts');
          const { cfg } = input;
          const jobs = [
            ['dataset', cfg.dataset, 'train'],
            ['validation_dataset', cfg.validation_dataset, 'heldout'],
          ] as const;
          mkdirSync(o.dataDir, { recursive: true });
          for (const [section, d, split] of jobs) {
            if (d.task === undefined) continue;
            const rows = taskExamples({
              task: d.task,
              split,
              splitSeed: d.split_seed,
              nHeldout: d.n_heldout,
              nExamples: section === 'dataset' ? cfg.dataset.n_examples : 0,
              balanceStrata: section === 'dataset' && cfg.dataset.balance_strata,
            });
            const file = resolve(join(o.dataDir, `${d.task}.${split}.jsonl`));
            writeFileSync(`${file}.tmp`, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
            renameSync(`${file}.tmp`, file);
            files[section] = file;
            log(`wrote ${rows.length} ${d.task} ${split} rows to ${file}`);
          }
          if (Object.keys(files).length === 0) log('--data-dir: the config has no builtin task; nothing written');
        }
        process.stdout.write(nemoRecipe(input, source, files));
      }),
    );
}
