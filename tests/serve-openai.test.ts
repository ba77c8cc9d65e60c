// `dllm-wgpu serve` driven by the official `openai` npm client: completions and chat completions,
// plain and streamed, give `sample --json`'s greedy answers token for token (at every position the
// float64 sampler decided by more than 1e-3); a stream has one chunk per committed block and, with
// dllm_steps, a step event per forward; 32 concurrent requests are all answered, in fewer batches
// than requests, each with its one-by-one answer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { closeDevice, gpuDevice } from './gpu.ts';
import { trimEnd } from '../sample/generate.ts';
import { endTokenIds } from '../model/tokenizer.ts';
import {
  assertAgrees,
  firmPositions,
  root,
  startServe,
  tinyCheckpoint,
  type ServeProcess,
  type TinyCheckpoint,
} from './serve.test-util.ts';

const tmp = mkdtempSync(join(tmpdir(), 'serve-openai-'));
let ck: TinyCheckpoint;
let srv: ServeProcess;
let client: OpenAI;
const G = { gen: 8, block: 4, steps: 8 };
/** Our knobs as the extra body fields a client sends beside OpenAI's. */
const KNOBS = { max_tokens: G.gen, block_length: G.block, steps: G.steps, logits_eos_inf: true };
type Choice = { text: string; token_ids: number[]; finish_reason: string };

interface SampleOut {
  prompt_ids: number[];
  output_ids: number[];
  text: string;
}
interface StepEvent {
  nfe: number;
  canvas: (string | null)[];
}

function sampleJson(args: string[]): SampleOut[] {
  const r = spawnSync(
    process.execPath,
    [join(root, 'bin/dev.js'), 'sample', '--checkpoint', ck.dir, '--json', '--logits-eos-inf', ...args],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.is(r.status, 0, r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as SampleOut);
}

const ended = (ids: number[]) => trimEnd(ids, endTokenIds(ck.tok), ck.cfg.mask_token_id);

test('setup: a tiny checkpoint and a server on a free loopback port', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  ck = await tinyCheckpoint(rt, join(tmp, 'ck'));
  await closeDevice();
  srv = await startServe(['--checkpoint', ck.dir, '--max-batch', '16']);
  assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const models = await client.models.list();
  assert.equal(
    models.data.map((m) => m.id),
    ['ck'],
  );
});

test('completions, plain and streamed, equal `sample --json` (greedy), a chunk per committed block', async () => {
  if (!srv) return;
  const prompts = ['abc=', '12+3', 'zz9 ', 'q=q='];
  writeFileSync(join(tmp, 'p.jsonl'), prompts.map((p) => JSON.stringify(p)).join('\n'));
  const cli = sampleJson([
    '--prompts',
    join(tmp, 'p.jsonl'),
    '--mode',
    'raw',
    '--gen-length',
    String(G.gen),
    '--block-length',
    String(G.block),
  ]);
  let allFirm = 0;
  for (const [i, prompt] of prompts.entries()) {
    const f = firmPositions(ck, cli[i].prompt_ids, G);
    allFirm += f.all ? 1 : 0;
    const want = ended(cli[i].output_ids);
    const plain = await client.completions.create({
      model: 'ck',
      prompt,
      ...KNOBS,
    } as OpenAI.CompletionCreateParamsNonStreaming);
    const c = plain.choices[0] as unknown as Choice;
    assertAgrees(c.token_ids, want, f, `plain "${prompt}"`);
    if (f.all) assert.is(c.text, cli[i].text);
    assert.is(c.finish_reason, 'length');
    assert.equal(plain.usage, { prompt_tokens: 4, completion_tokens: G.gen, total_tokens: 4 + G.gen });
    const stream = await client.completions.create({
      model: 'ck',
      prompt,
      stream: true,
      ...KNOBS,
    } as OpenAI.CompletionCreateParamsStreaming);
    const pieces: string[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      if (chunk.choices[0].text) pieces.push(chunk.choices[0].text);
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    assert.is(pieces.join(''), c.text, `streamed "${prompt}"`);
    assert.is(pieces.length, G.gen / G.block, 'one chunk per block');
    assert.is(finish, 'length');
  }
  assert.ok(allFirm >= 2, `only ${allFirm} of ${prompts.length} prompts were firmly decided: the check says little`);
});

test('chat completions, plain and streamed, equal `sample --mode chat --json`', async () => {
  if (!srv) return;
  const cli = sampleJson([
    '--prompt',
    'hi',
    '--mode',
    'chat',
    '--system',
    'be brief',
    '--gen-length',
    '8',
    '--block-length',
    '4',
  ]);
  const f = firmPositions(ck, cli[0].prompt_ids, G);
  const messages = [
    { role: 'system' as const, content: 'be brief' },
    { role: 'user' as const, content: 'hi' },
  ];
  const plain = await client.chat.completions.create({
    model: 'ck',
    messages,
    ...KNOBS,
  } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  const c = plain.choices[0] as unknown as { message: { content: string }; token_ids: number[] };
  assertAgrees(c.token_ids, ended(cli[0].output_ids), f, 'chat');
  assert.is(plain.usage!.prompt_tokens, cli[0].prompt_ids.length);
  const stream = await client.chat.completions.create({
    model: 'ck',
    messages,
    stream: true,
    ...KNOBS,
  } as OpenAI.ChatCompletionCreateParamsStreaming);
  let text = '',
    role = '';
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    role ||= chunk.choices[0]?.delta.role ?? '';
  }
  assert.is(role, 'assistant');
  assert.is(text, c.message.content);
});

test('dllm_steps: a step event per forward, masks only ever filled, the last canvas is the answer', async () => {
  if (!srv) return;
  const res = await fetch(`${srv.url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({ prompt: 'abc=', stream: true, dllm_steps: true, ...KNOBS }),
  });
  assert.is(res.headers.get('content-type'), 'text/event-stream');
  const events = (await res.text()).split('\n\n').filter(Boolean);
  const steps = events
    .filter((e) => e.startsWith('event: dllm.step'))
    .map((e) => JSON.parse(e.split('data: ')[1]) as StepEvent);
  assert.is(steps.length, G.steps);
  steps.forEach((s, k) => {
    assert.is(s.nfe, k + 1);
    assert.is(s.canvas.filter((t) => t === null).length, G.gen - (k + 1), `step ${k + 1}: one more position filled`);
  });
  const text = events
    .filter((e) => e.startsWith('data: {'))
    .map((e) => (JSON.parse(e.slice(6)) as { choices: { text: string }[] }).choices[0].text)
    .join('');
  // the canvas shows special tokens (here <|startoftext|>, the untrained model's choice); the text skips them
  assert.is(steps[steps.length - 1].canvas.join('').replace(/<\|[a-z_]+\|>/g, ''), text);
  assert.is(events.at(-1), 'data: [DONE]');
});

test('32 concurrent requests: all answered, batched, each equal to its one-by-one answer', async () => {
  if (!srv) return;
  const prompts = Array.from({ length: 32 }, (_, i) => 'abcdefghij'.slice(0, 1 + (i % 6)) + String(i % 10));
  const ask = (prompt: string) =>
    client.completions.create({ model: 'ck', prompt, ...KNOBS } as OpenAI.CompletionCreateParamsNonStreaming);
  const alone: number[][] = [];
  for (const p of prompts) alone.push(((await ask(p)).choices[0] as unknown as Choice).token_ids);
  const before = (await (await fetch(`${srv.url}/v1/dllm/stats`)).json()) as { batches: number };
  const together = await Promise.all(prompts.map(ask));
  const after = (await (await fetch(`${srv.url}/v1/dllm/stats`)).json()) as { batches: number };
  assert.ok(after.batches - before.batches < 32, `${after.batches - before.batches} batches for 32 requests`);
  assert.ok(after.batches - before.batches >= 2, 'at most 16 rows a batch');
  together.forEach((r, i) => {
    const ids = (r.choices[0] as unknown as Choice).token_ids;
    assert.is(ids.length, G.gen);
    assertAgrees(ids, alone[i], firmPositions(ck, ck.tok.encode(prompts[i]), G), `request ${i}`);
  });
});

test.after(async () => {
  srv?.proc.kill('SIGTERM');
  if (srv) assert.is(await srv.exited, 0, srv.stderr());
  await closeDevice();
  rmSync(tmp, { recursive: true, force: true });
});
test.run();
