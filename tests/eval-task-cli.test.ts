// `eval --task` through the CLI on tiny models: it reports exactly what `train` printed for the same
// model and held-out split (a from-scratch base, then a LoRA adapter trained on it with model.path
// naming the base's run folder), the base alone still scores as before the LoRA run, and bad
// input stops with one line and exit code 1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpuDevice, closeDevice } from './gpu.ts';

const root = new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'eval-task-cli-'));
const BIN = join(root, 'bin/dev.js');
const sets = (kv: Record<string, string | number>) => Object.entries(kv).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
const TINY = sets({
  'model.d_model': 16,
  'model.n_layers': 1,
  'model.n_heads': 2,
  'model.n_kv_heads': 2,
  'model.mlp_hidden_size': 24,
  'step_scheduler.global_batch_size': 8,
  'step_scheduler.local_batch_size': 8,
  'step_scheduler.max_steps': 6,
  'step_scheduler.ckpt_every_steps': 3,
  'step_scheduler.val_every_steps': 0,
  'dataset.split_seed': 7,
  'validation_dataset.split_seed': 7,
  'dataset.n_heldout': 40,
  'validation_dataset.n_heldout': 40,
});
const LORA_TOML = `name = "lora"
seed = 3
[model]
path = "base"
[dataset]
task = "reverse"
split_seed = 7
n_heldout = 30
seq_length = 22
gen_length = [4, 16]
[validation_dataset]
task = "reverse"
split_seed = 7
n_heldout = 30
seq_length = 22
[step_scheduler]
global_batch_size = 8
local_batch_size = 8
max_steps = 4
ckpt_every_steps = 4
val_every_steps = 0
[optimizer]
lr = 0.05
[peft]
target_modules = ["*.q_proj", "*.v_proj"]
dim = 2
alpha = 4
`;

function run(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: tmp, timeout: 300_000 });
}

/** What a scoring command reports: its stdout result lines and the wrong answers it shows on stderr. */
function report(r: ReturnType<typeof run>): string[] {
  assert.is(r.status, 0, r.stderr);
  return [...r.stdout.trim().split('\n'), ...r.stderr.split('\n').filter((l) => l.includes('e.g. wrong'))];
}

test('eval --task repeats what train reported, for a base and for a LoRA adapter on it (base unchanged)', async () => {
  if (!(await gpuDevice())) return;
  await closeDevice();
  const base = report(run(['train', '--out', 'base', '--eval-limit', '12', ...TINY]));
  assert.ok(base.some((l) => l.startsWith('accuracy addition ')));
  assert.ok(
    base.some((l) => l.includes('e.g. wrong')),
    'an untrained model shows its wrong answers',
  );
  const evalBase = ['eval', '--checkpoint', 'base', '--task', 'addition', '--max-examples', '12'];
  assert.equal(report(run([...evalBase, '--split-seed', '7', '--n-heldout', '40'])), base);
  // another held-out split samples other prompts: the flags reach the split
  assert.not.equal(report(run([...evalBase, '--split-seed', '8', '--n-heldout', '40'])), base);

  writeFileSync(join(tmp, 'lora.toml'), LORA_TOML);
  const tr = run(['train', 'lora.toml', '--out', 'lora', '--eval-limit', '12']);
  assert.match(tr.stderr, /model\.path: using .*step-000006 .*newest complete checkpoint/);
  const lora = report(tr);
  assert.ok(lora.some((l) => l.startsWith('accuracy reverse ')));
  const adapterCfg = JSON.parse(readFileSync(join(tmp, 'lora/step-000004/adapter_config.json'), 'utf8')) as {
    base_model_name_or_path: string;
  };
  assert.is(adapterCfg.base_model_name_or_path, join(tmp, 'base/step-000006'));
  const evalLora = ['eval', '--checkpoint', 'lora', '--task', 'reverse', '--max-examples', '12'];
  assert.equal(report(run([...evalLora, '--split-seed', '7', '--n-heldout', '30'])), lora);
  // adapter off after the LoRA run: the base scores what it scored when it was trained
  assert.equal(report(run([...evalBase, '--split-seed', '7', '--n-heldout', '40'])), base);
});

test('eval and train: bad input gives one line and exit code 1', () => {
  writeFileSync(join(tmp, 'lora.toml'), LORA_TOML);
  mkdirSync(join(tmp, 'fake-base'), { recursive: true });
  writeFileSync(join(tmp, 'fake-base/config.json'), '{}');
  mkdirSync(join(tmp, 'fake-adapter'), { recursive: true });
  writeFileSync(
    join(tmp, 'fake-adapter/adapter_config.json'),
    JSON.stringify({ base_model_name_or_path: 'fake-base' }),
  );
  const cases: [string[], RegExp][] = [
    [['eval', '--checkpoint', '.'], /one of --data .* or --task/],
    [['eval', '--checkpoint', '.', '--task', 'addition', '--data', 'x.jsonl'], /one of --data .* or --task/],
    [['eval', '--checkpoint', '.', '--task', 'divide'], /--task: expected one of addition, sort, reverse/],
    [['train', 'lora.toml', '--set', 'model.path=nowhere', '--print-config'], /model\.path .*nowhere not found/],
    [['train', 'lora.toml', '--set', 'model.path=fake-adapter', '--print-config'], /model\.path .* is a LoRA adapter/],
  ];
  for (const [args, msg] of cases) {
    const r = run(args);
    assert.is(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
