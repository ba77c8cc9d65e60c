// Sizes are checked before anything is allocated (model/memory-plan.ts), through the CLI in child
// processes: a config.json with a million layers (sample, eval), batch sizes of 0 or -1, a step
// count of 2^31, sequences of 100000 and 1e8 tokens, and a local batch over the storage-binding
// limit each end in one error line with the numbers and exit 1 within seconds, where they used to
// run for minutes into a V8 out-of-memory abort. Also: --prompts / --messages given a folder.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDevice, gpuDevice } from './gpu.ts';
import { createConfig, tokenizerConfigFields } from '../model/config.ts';
import { createModel, saveModel } from '../model/io.ts';
import { buildCharTokenizer } from '../model/tokenizer.ts';

const root = new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'size-limits-'));
const tok = buildCharTokenizer('0123456789+= ');
const ck = join(tmp, 'tiny');
const huge = join(tmp, 'million-layers');
const data = join(tmp, 'data.jsonl');
/** Well under what each case took before (55 s to minutes), with room for a loaded machine's start-up. */
const LIMIT_MS = 45_000;

const sets = (kv: Record<string, string | number>) => Object.entries(kv).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
const TINY = sets({
  'model.d_model': 32,
  'model.n_layers': 1,
  'model.n_heads': 2,
  'model.n_kv_heads': 2,
  'model.mlp_hidden_size': 96,
  'step_scheduler.global_batch_size': 8,
  'step_scheduler.local_batch_size': 8,
  'step_scheduler.max_steps': 2,
});

function run(args: string[], env: Record<string, string> = {}) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(root, 'bin/dev.js'), ...args], {
    encoding: 'utf8',
    cwd: tmp,
    env: { ...process.env, ...env },
    timeout: LIMIT_MS,
  });
  return { ...r, ms: Date.now() - t0 };
}

test('setup: a tiny checkpoint, and a copy whose config.json says a million layers', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const cfg = createConfig({
    d_model: 16,
    n_heads: 2,
    n_kv_heads: 2,
    n_layers: 1,
    mlp_hidden_size: 16,
    max_sequence_length: 64,
    ...tokenizerConfigFields(tok),
  });
  const m = createModel(cfg, { device: rt, seed: 1 });
  await saveModel(m, ck, { tokenizer: tok });
  m.dispose();
  cpSync(ck, huge, { recursive: true });
  const p = join(huge, 'config.json');
  writeFileSync(p, JSON.stringify({ ...(JSON.parse(readFileSync(p, 'utf8')) as object), n_layers: 1000000 }));
  writeFileSync(data, '{"prompt": "1+2=", "response": "3"}\n');
});

test('sizes over what the model, the adapter or the host allow: one line with the numbers, exit 1, in seconds', async () => {
  if (!(await gpuDevice())) return;
  const sample = ['sample', '--prompt', '1+1=', '--gen-length', '4', '--block-length', '4'];
  const evalArgs = ['eval', '--data', data, '--seq-length', '16'];
  // A binding limit like lavapipe's (128 MiB) on every adapter, so the refusals do not depend on it.
  const binding = { DLLM_WGPU_LIMITS: `maxStorageBufferBindingSize:${128 << 20}` };
  const cases: [string, string[], RegExp, Record<string, string>?][] = [
    [
      'sample, n_layers 1000000',
      [...sample, '--checkpoint', huge],
      /n_layers 1000000 needs 9000003 tensors|needs about [\d.]+ GiB .*free/,
    ],
    ['eval, n_layers 1000000', [...evalArgs, '--checkpoint', huge], /n_layers 1000000 needs|needs about [\d.]+ GiB/],
    [
      'eval --batch-size 0',
      [...evalArgs, '--checkpoint', ck, '--batch-size', '0'],
      /--batch-size expects an integer >= 1/,
    ],
    [
      'eval --batch-size -1',
      [...evalArgs, '--checkpoint', ck, '--batch-size', '-1'],
      /--batch-size expects an integer >= 1/,
    ],
    [
      'sample --steps 2^31',
      [...sample, '--checkpoint', ck, '--steps', '2147483648'],
      /--steps 2147483648 is more than --gen-length 4/,
    ],
    [
      'train, seq_length 100000',
      ['train', ...TINY, ...sets({ 'model.max_sequence_length': 100000, 'dataset.seq_length': 100000 })],
      /train: an activation of 8 x 100000 tokens x 96 needs 0\.29 GiB in one storage binding; this adapter allows 0\.13 GiB/,
      binding,
    ],
    [
      'train, seq_length 1e8',
      ['train', ...TINY, ...sets({ 'model.max_sequence_length': 100000000, 'dataset.seq_length': 100000000 })],
      /train: an activation of 8 x 100000000 tokens x 96 needs 286\.10 GiB in one buffer/,
    ],
    [
      'train, local_batch_size over the binding limit',
      [
        'train',
        ...TINY,
        ...sets({ 'step_scheduler.local_batch_size': 65536, 'step_scheduler.global_batch_size': 65536 }),
      ],
      /an activation of 65536 x 22 tokens x 96 needs 0\.52 GiB in one storage binding.*local_batch_size/,
      binding,
    ],
    ['sample --prompts a folder', [...sample, '--checkpoint', ck, '--prompts', tmp], /--prompts file .* is a folder/],
    [
      'sample --messages a folder',
      [...sample, '--checkpoint', ck, '--messages', tmp],
      /--messages file .* is a folder/,
    ],
  ];
  for (const [what, args, re, env] of cases) {
    const r = run(args, env);
    assert.is(r.status, 1, `${what}: exit ${r.status} after ${r.ms} ms (signal ${r.signal}); ${r.stderr}`);
    assert.match(r.stderr, re, what);
    assert.not.match(r.stderr, /^\s+at /m, `${what}: no stack trace`);
    const errors = r.stderr
      .split('\nUsage:')[0]
      .split('\n')
      .filter((l) => /error/i.test(l));
    assert.is(errors.length, 1, `${what}: one error line, got ${r.stderr}`);
  }
});

test.after(async () => {
  await closeDevice();
  rmSync(tmp, { recursive: true, force: true });
});

test.run();
