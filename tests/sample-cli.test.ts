// `dllm-wgpu sample` end to end on tiny random checkpoints: chat mode applies the template, --json
// output has the documented fields, EOS trimming, the default mode on a char tokenizer that cannot
// spell its chat template, lengths fitted to a short model, a run folder as --checkpoint (sample
// and eval), and each bad input is a clear error (exit 1).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDevice, gpuDevice } from './gpu.ts';
import { createConfig, tokenizerConfigFields } from '../model/config.ts';
import { createModel, saveModel } from '../model/io.ts';
import { buildCharTokenizer } from '../model/tokenizer.ts';
import { buildPrompts } from '../sample/prompt.ts';
import { trimEnd } from '../sample/generate.ts';
import { commitCheckpoint } from '../train/checkpoint-dir.ts';

const root = new URL('..', import.meta.url).pathname;

/** The fields these tests read from `sample --json` / `chat --json` output. */
interface SampleJson {
  prompt_ids: number[];
  output_ids: number[];
  text: string;
  nfe: number;
  mode: string;
  messages: { role: string; content: string }[];
  peak_gpu_memory_bytes: number;
  peak_host_rss_bytes: number;
}
/** The fields these tests read from `eval --json` output. */
interface EvalJson {
  checkpoint: string;
  rows: number;
  val_loss: number;
  log_likelihood: { per_example: number[] };
}
const tmp = mkdtempSync(join(tmpdir(), 'sample-cli-'));
const tok = buildCharTokenizer('abcdefghijklmnopqrstuvwxyz0123456789+= \n');
// The default run's charset: its chat template's "user" is outside the vocabulary.
const digits = buildCharTokenizer('0123456789+=');
const runDir = join(tmp, 'run');

function run(args: string[]) {
  return spawnSync(process.execPath, [join(root, 'bin/dev.js'), 'sample', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
}

test('setup: tiny checkpoints with and without a tokenizer', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const cfg = createConfig({
    d_model: 16,
    n_heads: 2,
    n_kv_heads: 2,
    n_layers: 1,
    mlp_hidden_size: 16,
    ...tokenizerConfigFields(tok),
  });
  const m = createModel(cfg, { device: rt, seed: 2 });
  await saveModel(m, join(tmp, 'with-tok'), { tokenizer: tok });
  await saveModel(m, join(tmp, 'no-tok'), { tokenizer: null });
  m.tokenizer = null;
  m.dispose();
  // a short model over the default charset, saved as a training run saves its checkpoints
  const d = createModel(
    createConfig({
      d_model: 16,
      n_heads: 2,
      n_kv_heads: 2,
      n_layers: 1,
      mlp_hidden_size: 16,
      max_sequence_length: 16,
      ...tokenizerConfigFields(digits),
    }),
    { device: rt, seed: 3 },
  );
  for (const step of [1, 2]) await commitCheckpoint(runDir, step, (dir) => saveModel(d, dir, { tokenizer: digits }));
  // an interrupted save of a later step: never chosen
  mkdirSync(join(runDir, '.tmp-step-000003'));
  d.tokenizer = null;
  d.dispose();
  mkdirSync(join(tmp, 'half-run', 'step-000005'), { recursive: true });
});

test('a run folder as --checkpoint: its newest complete checkpoint, said on stderr; default mode raw, lengths fitted', async () => {
  if (!(await gpuDevice())) return;
  const r = run(['--checkpoint', runDir, '--prompt', '1+1=', '--json']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /using \S*run\/step-000002 \(step 2, the newest complete checkpoint in \S*run\)/);
  assert.match(r.stderr, /mode raw: the tokenizer cannot encode its chat template.*"u", "s", "e", "r"/);
  // 4 prompt tokens leave 12 of the model's 16: one block of 12, one token per step
  assert.match(r.stderr, /gen-length 12, block-length 12: what fits after the 4-token prompt/);
  const o = JSON.parse(r.stdout.trim()) as SampleJson;
  assert.equal(o.prompt_ids, digits.encode('1+1='));
  assert.is(o.output_ids.length, 12);
  assert.is(o.nfe, 12);
  assert.is(o.mode, 'raw');
  // peak memory: the GPU held at least the f32 weights (the safetensors' data), the host more than that
  const weights = statSync(join(runDir, 'step-000002', 'model.safetensors')).size - 4096;
  assert.ok(o.peak_gpu_memory_bytes >= weights, `peak GPU memory ${o.peak_gpu_memory_bytes} < weights ${weights}`);
  assert.ok(o.peak_host_rss_bytes > Math.max(weights, 20 << 20), `peak host RSS ${o.peak_host_rss_bytes}`);
  // a gen length shorter than the default block is one block
  const short = run(['--checkpoint', runDir, '--prompt', '1+1=', '--gen-length', '3', '--json']);
  assert.is(short.status, 0, short.stderr);
  assert.is((JSON.parse(short.stdout.trim()) as SampleJson).output_ids.length, 3);
  // what the user sets is kept, and what cannot fit is still an error
  const big = run(['--checkpoint', runDir, '--prompt', '1+1=', '--gen-length', '16', '--block-length', '16']);
  assert.is(big.status, 1);
  assert.match(big.stderr, /exceeds the model's max_sequence_length 16/);
  // a checkpoint trained on gen lengths up to 6 (its saved config.toml) samples 6 tokens by default
  writeFileSync(join(runDir, 'step-000002', 'config.toml'), '[dataset]\ngen_length = [4, 6]\n');
  const trained = run(['--checkpoint', runDir, '--prompt', '1+1=', '--json']);
  assert.is(trained.status, 0, trained.stderr);
  assert.match(trained.stderr, /gen-length 6: the longest the checkpoint was trained to generate/);
  assert.is((JSON.parse(trained.stdout.trim()) as SampleJson).output_ids.length, 6);
});

test('eval takes a run folder too', async () => {
  if (!(await gpuDevice())) return;
  const data = join(tmp, 'sums.jsonl');
  writeFileSync(data, '{"prompt":"1+2=","response":"3"}\n');
  const r = spawnSync(
    process.execPath,
    [
      join(root, 'bin/dllm-wgpu.js'),
      'eval',
      '--checkpoint',
      runDir,
      '--data',
      data,
      '--seq-length',
      '8',
      '--mc-num',
      '0',
      '--json',
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /using \S*run\/step-000002/);
  assert.is((JSON.parse(r.stdout.trim()) as EvalJson).checkpoint, join(runDir, 'step-000002'));
});

test('chat: --system and --messages make one conversation; --json returns it with the answer', async () => {
  if (!(await gpuDevice())) return;
  const conv = join(tmp, 'conv.json');
  writeFileSync(
    conv,
    JSON.stringify([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'ok' },
    ]),
  );
  const r = run([
    '--checkpoint',
    join(tmp, 'with-tok'),
    '--system',
    'be brief',
    '--messages',
    conv,
    '--prompt',
    'and now',
    '--gen-length',
    '4',
    '--block-length',
    '4',
    '--json',
  ]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /mode chat: --messages/);
  const o = JSON.parse(r.stdout.trim()) as SampleJson;
  const want = [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'hi' },
    { role: 'assistant', content: 'ok' },
    { role: 'user', content: 'and now' },
  ];
  assert.equal(o.prompt_ids, tok.encode(tok.applyChat(want, { addGenerationPrompt: true })));
  assert.equal(o.messages, [...want, { role: 'assistant', content: o.text }]);
});

test("chat mode renders LLaDA's template with the generation prompt", () => {
  const { ids, mode } = buildPrompts({
    texts: ['a+b'],
    tokenizer: tok,
    maskSpan: 4,
    maskId: tok.maskId,
    checkpoint: 'x',
  });
  assert.is(mode, 'chat');
  const text =
    '<|startoftext|><|start_header_id|>user<|end_header_id|>\n\na+b<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n';
  assert.equal(ids[0], tok.encode(text));
  const inf = buildPrompts({
    texts: ['a[MASK]b'],
    mode: 'infill',
    tokenizer: tok,
    maskSpan: 3,
    maskId: tok.maskId,
    checkpoint: 'x',
  });
  assert.equal(inf.ids[0], [...tok.encode('a'), tok.maskId, tok.maskId, tok.maskId, ...tok.encode('b')]);
});

test('EOS/EOT trimming keeps what comes before the first end token or leftover mask', () => {
  assert.equal(trimEnd([5, 6, 0, 7], [0], 2), [5, 6]);
  assert.equal(trimEnd([5, 2, 7], [0], 2), [5]);
  assert.equal(trimEnd([5, 6], [0], 2), [5, 6]);
});

test('sample --json prints the documented fields for each prompt', async () => {
  if (!(await gpuDevice())) return;
  const r = run([
    '--checkpoint',
    join(tmp, 'with-tok'),
    '--mode',
    'raw',
    '--prompt',
    '12+3=',
    '--prompt',
    'ab',
    '--gen-length',
    '4',
    '--block-length',
    '2',
    '--steps',
    '2',
    '--json',
  ]);
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as SampleJson);
  assert.is(lines.length, 2);
  for (const o of lines) {
    assert.is(o.output_ids.length, 4);
    for (const k of ['prompt_ids', 'output_ids', 'text', 'nfe', 'seconds']) assert.ok(k in o, k);
  }
  assert.equal(lines[0].prompt_ids, tok.encode('12+3='));
});

test('bad sample inputs: clear errors, exit 1', async () => {
  if (!(await gpuDevice())) return;
  const ck = join(tmp, 'with-tok');
  const cases: [string[], RegExp][] = [
    [['--checkpoint', ck, '--prompt', 'a', '--mode', 'poetry'], /argument 'poetry' is invalid.*chat, raw, infill/s],
    [['--checkpoint', ck, '--prompt-ids', '1,2,999'], /token id 999 .*outside the model's vocabulary/],
    [['--checkpoint', ck, '--prompt', ''], /prompt 1 is empty/],
    [['--checkpoint', join(tmp, 'missing'), '--prompt', 'a'], /checkpoint folder not found/],
    [
      ['--checkpoint', join(tmp, 'half-run'), '--prompt', 'a'],
      /half-run is a run folder with no complete checkpoint \(step-000005 never finished saving\)/,
    ],
    [['--checkpoint', tmp, '--prompt', 'a'], /neither a model folder \(no config\.json\) nor a training run folder/],
    [
      ['--checkpoint', runDir, '--prompt', '1', '--mode', 'chat'],
      /chat mode: the tokenizer cannot encode its chat template/,
    ],
    [['--checkpoint', ck, '--messages', join(tmp, 'no-such.json')], /--messages file not found/],
    [
      ['--checkpoint', ck, '--messages', join(tmp, 'bad-list.json')],
      /bad-list\.json: expected a JSON list of \{"role"/,
    ],
    [['--checkpoint', ck, '--messages', join(tmp, 'bad-role.json')], /bad-role\.json: message 1: unknown role "bot"/],
    [['--checkpoint', join(tmp, 'no-tok'), '--prompt', 'a'], /no tokenizer\.json.*--prompt-ids/],
    [
      ['--checkpoint', ck, '--prompt', 'a', '--gen-length', '10', '--block-length', '3'],
      /not divisible by --block-length/,
    ],
    // A number option that is not a number: the option parser's message, not a stack trace.
    [
      ['--checkpoint', ck, '--prompt', 'a', '--steps', 'ten'],
      /argument 'ten' is invalid\. --steps expects an integer, got "ten"/,
    ],
  ];
  writeFileSync(join(tmp, 'bad-list.json'), '{"role": "user", "content": "hi"}');
  writeFileSync(join(tmp, 'bad-role.json'), '[{"role": "bot", "content": "hi"}]');
  for (const [args, re] of cases) {
    const r = run(args);
    assert.is(r.status, 1, `${args.join(' ')}: exit ${r.status}; ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.not.match(r.stderr, /^\s+at /m, `${args.join(' ')}: a stack trace reached the user`);
    // One error line, whatever progress notes (which checkpoint, which mode) came before it, and
    // nothing after it but the usage that main.ts has commander print for a refused option.
    const lines = r.stderr.split('\nUsage:')[0].trim().split('\n');
    assert.is(lines.filter((l) => /error/i.test(l)).length, 1, `${args.join(' ')}: one error line, got ${r.stderr}`);
    assert.match(lines.at(-1)!, /^error: /, `${args.join(' ')}: the error comes last`);
  }
});

test('eval: validation loss and Monte Carlo log-likelihood as JSON; bad data is a clear error', async () => {
  if (!(await gpuDevice())) return;
  const data = join(tmp, 'pairs.jsonl');
  writeFileSync(data, '{"prompt":"1+2=","response":"3"}\n{"prompt":"ab","response":"c"}\n');
  const r = spawnSync(
    process.execPath,
    [
      join(root, 'bin/dev.js'),
      'eval',
      '--checkpoint',
      join(tmp, 'with-tok'),
      '--data',
      data,
      '--seq-length',
      '8',
      '--mc-num',
      '8',
      '--mc-batch',
      '4',
      '--json',
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.is(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout.trim().split('\n').pop()!) as EvalJson;
  assert.is(o.rows, 2);
  assert.ok(o.val_loss > 0 && Number.isFinite(o.val_loss), `val_loss ${o.val_loss}`);
  assert.is(o.log_likelihood.per_example.length, 2);
  assert.ok(
    o.log_likelihood.per_example.every((x) => x < 0),
    'log-likelihoods are negative',
  );
  writeFileSync(data, '{"prompt":"1+2=","response":"3"}\n{not json\n');
  const bad = spawnSync(
    process.execPath,
    [join(root, 'bin/dev.js'), 'eval', '--checkpoint', join(tmp, 'with-tok'), '--data', data],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /pairs\.jsonl:2/);
});

test.after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await closeDevice();
});
test.run();
