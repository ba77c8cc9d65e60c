// Tests for `export-recipe`: the YAML it prints names every field of NeMo AutoModel's two LLaDA
// example recipes (field lists recorded in tests/fixtures/nemo-llada-*.fields.txt), carries our
// values into NeMo's fields, writes numbers PyYAML reads as numbers, reads [peft] (NeMo's
// PeftConfig) whether or not the training schema knows it, and refuses bad [peft] input in one line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../engine/errors.ts';
import { DEFAULT_CONFIG_TOML, loadTrainConfig } from '../train/config.ts';
import { nemoRecipe } from '../cli/export-recipe.ts';
import { loadRecipeInput, NEMO_PEFT_DEFAULTS } from '../cli/recipe-input.ts';
import { float, map, toYaml } from '../cli/yaml.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SFT_TOML = readFileSync(join(root, 'examples/llada-sft.toml'), 'utf8');
const SFT_PATH = join(root, 'examples/llada-sft.toml');
// llada_lora.yaml's peft block, as a dllm-wgpu [peft] section
const PEFT = `
[peft]
match_all_linear = false
target_modules = ["*.q_proj", "*.k_proj", "*.v_proj", "*.att_proj", "*.attn_out", "*.ff_proj", "*.up_proj", "*.ff_out"]
dim = 16
alpha = 32
`;

const fields = (name: string): string[] =>
  readFileSync(join(root, 'tests/fixtures', name), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'));

/**
 * Dotted paths of the keys in block YAML as the writer prints it (maps, "- " string items, flow
 * lists, comments). Anything else is an error, so the test cannot pass on text it misreads.
 */
function yamlPaths(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const stack: { indent: number; key: string }[] = [];
  for (const line of text.split('\n')) {
    if (/^\s*(#.*)?$/.test(line) || /^\s+- /.test(line)) continue;
    const m = /^( *)([A-Za-z_][A-Za-z0-9_]*):(?: +(.*?))?(?: +#.*)?$/.exec(line);
    if (!m) throw new Error(`unreadable YAML line: ${JSON.stringify(line)}`);
    const indent = m[1].length;
    while (stack.length && stack[stack.length - 1].indent >= indent) stack.pop();
    if (indent !== (stack.length ? stack[stack.length - 1].indent + 2 : 0)) throw new Error(`bad indent: ${line}`);
    stack.push({ indent, key: m[2] });
    out.set(stack.map((s) => s.key).join('.'), m[3] ?? '');
  }
  return out;
}

const exportOf = (toml: string, source = SFT_PATH, sets: string[] = []) =>
  nemoRecipe(loadRecipeInput(toml, source, sets), source);

function missing(yaml: string, fixture: string): string[] {
  const have = yamlPaths(yaml);
  return fields(fixture).filter((f) => !have.has(f));
}

test("examples/llada-sft.toml exports every field of NeMo's llada_sft.yaml, with the example's values", () => {
  const yaml = exportOf(SFT_TOML);
  assert.equal(missing(yaml, 'nemo-llada-sft.fields.txt'), []);
  assert.ok(!yamlPaths(yaml).has('peft'), 'a full fine-tune has no peft section');
  const v = yamlPaths(yaml);
  // llada-sft.toml translates llada_sft.yaml: the values NeMo's file has come back
  const want: Record<string, string> = {
    'step_scheduler.global_batch_size': '32',
    'step_scheduler.local_batch_size': '4',
    'step_scheduler.max_steps': 'null',
    'step_scheduler.num_epochs': '5',
    'dllm.mask_token_id': '126336',
    'dllm.eps': '0.001',
    'optimizer.lr': '2.0e-5',
    'optimizer.eps': '1.0e-8',
    'optimizer.betas': '[0.9, 0.999]',
    'optimizer.weight_decay': '0.0',
    'lr_scheduler.min_lr': '0.0',
    'dataset.seq_length': '1024',
    'dataset._target_': 'nemo_automodel.components.datasets.llm.chat_dataset.ChatDataset',
    'checkpoint.enabled': 'false',
    'checkpoint.save_consolidated': 'true',
    'model.torch_dtype': 'float32',
  };
  for (const [k, x] of Object.entries(want)) assert.is(v.get(k), x, k);
  assert.is(v.get('model.pretrained_model_name_or_path'), join(root, 'checkpoints/LLaDA-8B-Base'));
  assert.is(v.get('dataset.tokenizer.pretrained_model_name_or_path'), join(root, 'checkpoints/LLaDA-8B-Base'));
});

test("a config with [peft] exports every field of NeMo's llada_lora.yaml; PeftConfig defaults fill the rest", () => {
  const yaml = exportOf(SFT_TOML + PEFT);
  assert.equal(missing(yaml, 'nemo-llada-lora.fields.txt'), []);
  const v = yamlPaths(yaml);
  assert.equal([v.get('peft.dim'), v.get('peft.alpha'), v.get('peft.match_all_linear')], ['16', '32', 'false']);
  assert.ok(yaml.includes('  target_modules:\n    - "*.q_proj"\n    - "*.k_proj"\n'), 'patterns listed and quoted');
  assert.equal(
    [v.get('peft.dropout'), v.get('peft.dropout_position'), v.get('peft.lora_A_init')],
    ['0.0', 'post', 'xavier'],
  );
  assert.is(v.get('checkpoint.save_consolidated'), 'false');
  assert.is(v.get('distributed.activation_checkpointing'), 'false');
  const ac = yamlPaths(exportOf(SFT_TOML + PEFT + '\n[distributed]\nactivation_checkpointing = true\n'));
  assert.is(ac.get('distributed.activation_checkpointing'), 'true');
  // --set peft.key alone makes a LoRA recipe
  const set = yamlPaths(exportOf(SFT_TOML, SFT_PATH, ['peft.dim=4', 'peft.target_modules=["*.q_proj"]']));
  assert.equal([set.get('peft.dim'), set.get('peft.alpha')], ['4', String(NEMO_PEFT_DEFAULTS.alpha)]);
});

test('the embedded default config exports the llada_sft.yaml fields and says what NeMo cannot take over', () => {
  const yaml = exportOf(DEFAULT_CONFIG_TOML, '<embedded default>');
  assert.equal(missing(yaml, 'nemo-llada-sft.fields.txt'), []);
  const v = yamlPaths(yaml);
  const steps = loadTrainConfig(DEFAULT_CONFIG_TOML, '<embedded default>').step_scheduler.max_steps;
  assert.equal([v.get('step_scheduler.max_steps'), v.get('step_scheduler.num_epochs')], [String(steps), 'null']);
  assert.is(v.get('model.pretrained_model_name_or_path'), 'null', 'from scratch: no pretrained model to name');
  assert.match(yaml, /path_or_dataset_id: null {2}# builtin task "addition"/);
  assert.match(yaml, /# {3}dataset\.gen_length = \[4,16\]/);
  assert.ok(yamlPaths(yaml).has('validation_dataset.seq_length'));
});

test('bad [peft] input: what, where, and the valid keys', () => {
  const err = (toml: string, sets: string[] = []) => {
    try {
      loadRecipeInput(toml, 'x.toml', sets);
    } catch (e) {
      assert.instance(e, UserError);
      return (e as Error).message;
    }
    throw new Error('no error');
  };
  assert.match(err(SFT_TOML + PEFT.replace('dim = 16', 'rank = 16')), /peft\.rank/);
  assert.match(err(SFT_TOML + PEFT.replace('dim = 16', 'dim = 0')), /peft\.dim/);
  assert.match(err(SFT_TOML + PEFT, ['peft.dropout_position=middle']), /dropout_position/);
  assert.match(err(SFT_TOML + '\n[optimizer2]\n'), /unknown section \[optimizer2\]/);
});

test('YAML scalars read back as what they are in PyYAML (YAML 1.1)', () => {
  const y = toYaml(
    [],
    [
      {
        key: 'a',
        value: map([
          { key: 'f', value: [float(1e-8), float(1), float(0.5), float(2.5e21), float(2e-5), float(-0.00035)] },
        ]),
      },
      { key: 's', value: ['no', 'on', '*.q_proj', 'none', '1.5', 'a b', 'x/y-z.w'] },
      { key: 'n', value: null, comment: 'why' },
    ],
  );
  assert.is(
    y,
    '\na:\n  f: [1.0e-8, 1.0, 0.5, 2.5e+21, 2.0e-5, -3.5e-4]\n' +
      's:\n  - "no"\n  - "on"\n  - "*.q_proj"\n  - none\n  - "1.5"\n  - "a b"\n  - x/y-z.w\n' +
      'n: null  # why\n',
  );
});

test('the command writes a builtin task as JSONL with --data-dir and points the recipe at it; bad input exits 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dllm-recipe-'));
  try {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [join(root, 'bin/dev.js'), 'export-recipe', ...args], {
        encoding: 'utf8',
        env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
      });
    const r = run('--data-dir', dir, '--set', 'dataset.task=reverse', '--set', 'validation_dataset.task=reverse');
    assert.is(r.status, 0, r.stderr);
    const train = join(dir, 'reverse.train.jsonl');
    assert.is(yamlPaths(r.stdout).get('dataset.path_or_dataset_id'), train);
    assert.is(yamlPaths(r.stdout).get('validation_dataset.path_or_dataset_id'), join(dir, 'reverse.heldout.jsonl'));
    const rows = readFileSync(train, 'utf8').trim().split('\n');
    assert.is(rows.length, 29_080, 'balance_strata of the default config: 9760 + 9600 + 9720 rows');
    const first = JSON.parse(rows[0]) as { prompt: string; response: string };
    assert.is(first.response, [...first.prompt.slice(0, -1)].reverse().join(''));
    const bad = run(SFT_PATH, '--set', 'peft.rank=8');
    assert.is(bad.status, 1);
    assert.is(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, /^error: .*peft\.rank/);
    assert.is(bad.stdout, '', 'nothing printed on error');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
