// Tests for the training config: defaults and examples load, syntax errors carry line:column,
// unknown keys get a suggestion, wrong types name key, expected type and given value, --set
// overrides apply with the same checks, cross-field rules fire, and printing round-trips.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../engine/errors.ts';
import { DEFAULT_CONFIG_TOML, levenshtein, loadTrainConfig, locateKey, resolvedConfigToToml } from './config.ts';
import type { TrainConfig } from './config-schema.ts';

const FC = { seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined, numRuns: 100 };
const root = fileURLToPath(new URL('..', import.meta.url));
const MINIMAL = '[dataset]\ntask = "addition"\n';

function userError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.instance(e, UserError);
    return (e as Error).message;
  }
  assert.unreachable('expected a UserError');
  return '';
}
const roundTrip = (cfg: TrainConfig) => loadTrainConfig(resolvedConfigToToml(cfg), '/elsewhere/saved.toml');

test('the default config loads with the tiny addition run', () => {
  const c = loadTrainConfig(DEFAULT_CONFIG_TOML, '<default>');
  assert.equal(
    [c.name, c.out, c.model.tokenizer, c.model.d_model, c.model.n_layers, c.model.n_heads, c.model.mlp_hidden_size],
    ['addition', 'runs/addition', 'char', 64, 2, 4, 192],
  );
  assert.equal([c.dataset.task, c.validation_dataset.task, c.dataset.n_heldout], ['addition', 'addition', 500]);
  // rows long enough for the longest prompt (6) + the longest gen length trained and evaluated (16)
  assert.equal([c.dataset.seq_length, c.dataset.gen_length, c.dataset.balance_strata], [22, [4, 16], true]);
  assert.equal([c.optimizer.lr, c.optimizer.betas, c.optimizer.weight_decay], [3e-3, [0.9, 0.98], 0.1]);
  assert.equal([c.lr_scheduler.lr_decay_style, c.step_scheduler.global_batch_size], ['cosine', 64]);
  // the README's three-seed figures and timing are for 8000 steps: change them together
  assert.is(c.step_scheduler.max_steps, 8000);
  assert.is(c.model.path, undefined);
});

test('the example configs load', () => {
  for (const name of ['sort.toml', 'llada-sft.toml']) {
    const path = join(root, 'examples', name);
    const c = loadTrainConfig(readFileSync(path, 'utf8'), path);
    assert.equal(roundTrip(c), c, name);
  }
  const llada = join(root, 'examples', 'llada-sft.toml');
  const c = loadTrainConfig(readFileSync(llada, 'utf8'), llada);
  assert.is(c.model.path, resolve(root, 'checkpoints/LLaDA-8B-Base')); // relative to the config file
  assert.equal([c.dllm.mask_token_id, c.step_scheduler.max_steps, c.step_scheduler.num_epochs], [126336, 0, 5]);
});

test('[distributed] activation_checkpointing: off by default, a boolean, the only key of its section', () => {
  assert.is(loadTrainConfig(MINIMAL, 'c.toml').distributed.activation_checkpointing, false);
  const on = loadTrainConfig(MINIMAL + '[distributed]\nactivation_checkpointing = true\n', 'c.toml');
  assert.is(on.distributed.activation_checkpointing, true);
  assert.equal(roundTrip(on), on);
  const set = loadTrainConfig(MINIMAL, 'c.toml', ['distributed.activation_checkpointing=true']);
  assert.is(set.distributed.activation_checkpointing, true);
  assert.match(
    userError(() => loadTrainConfig(MINIMAL + '[distributed]\nactivation_checkpointing = "yes"\n', 'c.toml')),
    /distributed\.activation_checkpointing/,
  );
  assert.match(
    userError(() => loadTrainConfig(MINIMAL + '[distributed]\ntp_size = 2\n', 'c.toml')),
    /distributed\.tp_size/,
  );
  const lora = join(root, 'examples', 'llada-lora.toml');
  assert.is(loadTrainConfig(readFileSync(lora, 'utf8'), lora).distributed.activation_checkpointing, true);
});

test('malformed TOML is a UserError with file:line:column', () => {
  const msg = userError(() => loadTrainConfig('name = "x"\n[optimizer]\nlr = 1e-3 oops\n', 'cfg.toml'));
  assert.match(msg, /^cfg\.toml:3:\d+: TOML syntax error: /);
  assert.match(msg, /lr = 1e-3 oops/); // the offending line is quoted
  assert.match(
    userError(() => loadTrainConfig('[model\n', 'a.toml')),
    /^a\.toml:1:\d+: TOML syntax error/,
  );
});

test('unknown keys and sections name the full path and the nearest known one', () => {
  const t = `${MINIMAL}[optimizer]\nlr = 1e-3\nlrr = 2e-3\n`;
  assert.is(
    userError(() => loadTrainConfig(t, 'cfg.toml')),
    'cfg.toml:5: unknown key optimizer.lrr (did you mean optimizer.lr?)',
  );
  assert.is(
    userError(() => loadTrainConfig(`${MINIMAL}[optimiser]\nlr = 1\n`, 'c.toml')),
    'c.toml:3: unknown section [optimiser] (did you mean [optimizer]?)',
  );
  assert.match(
    userError(() => loadTrainConfig(`${MINIMAL}[optimizer]\nwarmup = 5\n`, 'c.toml')),
    /unknown key optimizer\.warmup$/,
  );
  assert.match(
    userError(() => loadTrainConfig(`lr_warmup_steps = 3\n${MINIMAL}`, 'c.toml')),
    /did you mean lr_scheduler\.lr_warmup_steps\?/,
  );
});

test('wrong types name the key, the expected type and what was given', () => {
  const cases: [string, RegExp][] = [
    ['[optimizer]\nlr = "fast"', /^c\.toml:\d+: optimizer\.lr: expected a number, got string "fast"$/],
    ['[step_scheduler]\nmax_steps = 1.5', /step_scheduler\.max_steps: expected an integer, got number 1\.5/],
    ['[lr_scheduler]\nlr_decay_style = "cosin"', /expected one of "cosine", "linear", "constant", got string "cosin"/],
    ['[optimizer]\nbetas = [0.9]', /optimizer\.betas: expected an array of 2 numbers, got array \[0\.9\]/],
    ['[dllm]\neps = 0', /dllm\.eps: must be > 0/],
    ['[dllm]\nsupervise_padding = "yes"', /expected true or false, got string "yes"/],
    ['optimizer = 3', /optimizer is a section/],
    ['resume = true', /resume = true is ambiguous/],
  ];
  for (const [toml, re] of cases)
    assert.match(
      userError(() => loadTrainConfig(`${toml}\n${MINIMAL}`, 'c.toml')),
      re,
    );
});

test('--set overrides parse TOML values, fall back to strings and are checked the same way', () => {
  const c = loadTrainConfig(DEFAULT_CONFIG_TOML, '<default>', [
    'optimizer.lr=1e-3',
    'optimizer.betas=[0.8, 0.9]',
    'dllm.supervise_padding=false',
    'name=my-run',
    'resume=auto',
    'dataset.format="prompt_response"',
  ]);
  assert.equal([c.optimizer.lr, c.optimizer.betas, c.dllm.supervise_padding], [1e-3, [0.8, 0.9], false]);
  assert.equal([c.name, c.out, c.resume, c.dataset.format], ['my-run', 'runs/my-run', 'auto', 'prompt_response']);
  assert.is(
    userError(() => loadTrainConfig(DEFAULT_CONFIG_TOML, '<default>', ['optimizer.lrr=1'])),
    '--set optimizer.lrr=1: unknown key optimizer.lrr (did you mean optimizer.lr?)',
  );
  assert.is(
    userError(() => loadTrainConfig(DEFAULT_CONFIG_TOML, '<default>', ['optimizer.lr=abc'])),
    '--set optimizer.lr=abc: optimizer.lr: expected a number, got string "abc"',
  );
  assert.match(
    userError(() => loadTrainConfig(DEFAULT_CONFIG_TOML, '<default>', ['optimizer.lr'])),
    /expected key=value/,
  );
  // a --set path is relative to the working directory, a file's to the file's folder
  const d = loadTrainConfig('[dataset]\npath = "d.jsonl"\n', '/cfgs/run.toml', ['validation_dataset.path=v.jsonl']);
  assert.equal([d.dataset.path, d.validation_dataset.path], ['/cfgs/d.jsonl', resolve('v.jsonl')]);
});

test('cross-field rules: batch sizes, data sources, held-out split, architecture, schedule', () => {
  const load = (sets: string[], toml = DEFAULT_CONFIG_TOML) =>
    userError(() => loadTrainConfig(toml, '<default>', sets));
  assert.match(
    load(['step_scheduler.local_batch_size=48']),
    /global_batch_size \(64\) must be a multiple of .*local_batch_size \(48\)/,
  );
  assert.match(load([], '[optimizer]\nlr = 1e-3\n'), /\[dataset\] needs exactly one of path .* or task/);
  assert.match(load(['dataset.path=x.jsonl']), /not both/);
  assert.match(load(['validation_dataset.split_seed=7']), /held-out prompts would overlap/);
  assert.match(load(['model.path=ckpt', 'model.d_model=32']), /model\.d_model conflicts with model\.path/);
  assert.match(load(['model.n_kv_heads=3']), /multiple of model\.n_kv_heads/);
  assert.match(load(['dataset.seq_length=100']), /exceeds model\.max_sequence_length/);
  assert.match(load(['step_scheduler.max_steps=0']), /set step_scheduler\.max_steps or step_scheduler\.num_epochs/);
  assert.match(load(['lr_scheduler.min_lr=1']), /min_lr \(1\) exceeds optimizer\.lr/);
  assert.match(load(['dataset.unshifted=false']), /not supported/);
  assert.match(load(['name=a/b']), /names a folder/);
  const sortToml = DEFAULT_CONFIG_TOML.replaceAll('task = "addition"', 'task = "sort"');
  assert.match(load(['dataset.balance_strata=true'], sortToml), /balance_strata .*task "sort" has none/);
  assert.match(
    load(['dataset.gen_length=[9, 4]']),
    /gen_length \(\[9, 4\]\) must be \[min, max\] with 1 <= min <= max/,
  );
  assert.match(load(['dataset.gen_length=[0, 4]']), /1 <= min <= max/);
  assert.match(load(['dataset.gen_length=[4, 22]']), /max must be below dataset\.seq_length \(22\)/);
  assert.match(load(['dataset.gen_length=[4, 8.5]']), /must be integers/);
  assert.match(load(['dataset.gen_length=[4, 8]', 'dataset.format="text"']), /format "text" has no prompt/);
  assert.equal(
    loadTrainConfig(DEFAULT_CONFIG_TOML, '<default>', ['dataset.gen_length=[0, 0]']).dataset.gen_length,
    [0, 0],
  );
  const many = load(['step_scheduler.local_batch_size=48', 'lr_scheduler.min_lr=1']);
  assert.match(many, /^config has 2 problems:/);
  // fine-tuning the default run from a checkpoint needs no other change
  const ft = loadTrainConfig(DEFAULT_CONFIG_TOML, '<default>', ['model.path=/ckpt/step-006000']);
  assert.is(ft.model.tokenizer, 'checkpoint');
});

test('the resolved config prints to TOML that loads back to the same config', () => {
  const base = loadTrainConfig(DEFAULT_CONFIG_TOML, '<default>');
  assert.equal(roundTrip(base), base);
  const text = resolvedConfigToToml(base);
  assert.match(text, /\n# peak learning rate\nlr = 0\.003\n/);
  assert.match(text, /# mask_token_id = \(unset\)/);
  fc.assert(
    fc.property(
      fc.record({
        lr: fc.double({ min: 1e-6, max: 1, noNaN: true }),
        warm: fc.integer({ min: 0, max: 100 }),
        b1: fc.double({ min: 0, max: 0.99, noNaN: true }),
        eps: fc.double({ min: 1e-6, max: 1, noNaN: true }),
        style: fc.constantFrom('cosine', 'linear', 'constant'),
        norm: fc.constantFrom('token', 'answer_length'),
        mask: fc.option(fc.integer({ min: 0, max: 200000 }), { nil: undefined }),
        charset: fc.constantFrom('0123456789+=', 'ab"c\\', 'é€ü='),
      }),
      (r) => {
        const sets = [
          `optimizer.lr=${r.lr}`,
          `lr_scheduler.lr_warmup_steps=${r.warm}`,
          `lr_scheduler.min_lr=0`,
          `optimizer.betas=[${r.b1}, 0.999]`,
          `dllm.eps=${r.eps}`,
          `lr_scheduler.lr_decay_style=${r.style}`,
          `dllm.normalization=${r.norm}`,
          `model.charset=${JSON.stringify(r.charset)}`,
          ...(r.mask === undefined ? [] : [`dllm.mask_token_id=${r.mask}`]),
        ];
        const cfg = loadTrainConfig(DEFAULT_CONFIG_TOML, '<default>', sets);
        const back = roundTrip(cfg);
        return (
          JSON.stringify(back) === JSON.stringify(cfg) && cfg.optimizer.lr === r.lr && cfg.dllm.mask_token_id === r.mask
        );
      },
    ),
    FC,
  );
});

test('helpers: Levenshtein distance and key location', () => {
  assert.is(levenshtein('kitten', 'sitting'), 3);
  assert.is(levenshtein('', 'abc'), 3);
  assert.is(levenshtein('lr', 'lr'), 0);
  const t = 'name = "x"\n\n[optimizer]\n# c\nlr = 1\n[lr_scheduler]\nmin_lr = 0\n';
  assert.equal(
    [locateKey(t, '', 'name'), locateKey(t, 'optimizer', 'lr'), locateKey(t, 'lr_scheduler'), locateKey(t, 'x', 'y')],
    [1, 5, 6, undefined],
  );
});

test.run();
