// `dllm-wgpu serve` under bad input and load: malformed JSON, known fields of the wrong type, an
// oversize body, a gen length over the limit, path traversal (the API's routes and the checkpoint
// files offered to the page's in-browser mode) and wrong methods get their documented status and
// OpenAI's error JSON, and the server keeps answering; a checkpoint file comes whole or by range; a full queue answers 429 with
// Retry-After; a client that disconnects mid-stream stops its own work (its row leaves the batch,
// the other row's answer is unchanged); SIGTERM lets the running batch finish and exits 0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDevice, gpuDevice } from './gpu.ts';
import { startServe, tinyCheckpoint, type ServeProcess, type TinyCheckpoint } from './serve.test-util.ts';

const tmp = mkdtempSync(join(tmpdir(), 'serve-limits-'));
let ck: TinyCheckpoint;
let srv: ServeProcess;

/** The fields these tests read from a reply: OpenAI's error JSON, or a completion. */
interface Reply {
  error: { message: string; type: string; param: string | null };
  choices: { token_ids: number[] }[];
}

/** A raw request (the path sent as written: fetch would normalise `..`). */
function raw(
  path: string,
  method: string,
  body?: string,
): Promise<{ status: number; headers: Record<string, unknown>; json: Reply }> {
  return new Promise((resolve, reject) => {
    const u = new URL(srv.url);
    const req = request({ host: u.hostname, port: u.port, path, method }, (res) => {
      let data = '';
      res.on('data', (d) => (data += d));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, json: (data ? JSON.parse(data) : null) as Reply }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}
const post = (path: string, body: unknown) => raw(path, 'POST', typeof body === 'string' ? body : JSON.stringify(body));
const stats = async () =>
  (await raw('/v1/dllm/stats', 'GET')).json as unknown as {
    forwards: number;
    rowsLeft: number;
    batches: number;
    waiting: number;
  };

/** A streamed request whose step events are awaited one by one; abort() disconnects. */
function stream(body: object) {
  const ctl = new AbortController();
  const seen: string[] = [];
  let wake: () => void = () => {};
  const done = fetch(`${srv.url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({ ...body, stream: true, dllm_steps: true }),
    signal: ctl.signal,
  })
    .then(async (res) => {
      const rd = res.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
      for (;;) {
        const { value, done } = await rd.read();
        if (done) break;
        seen.push(new TextDecoder().decode(value));
        wake();
      }
    })
    .catch((e: Error) => (e.name === 'AbortError' ? undefined : Promise.reject(e)));
  const firstStep = async () => {
    while (!seen.join('').includes('event: dllm.step')) await new Promise<void>((r) => (wake = r));
  };
  return { done, firstStep, abort: () => ctl.abort(), text: () => seen.join('') };
}

test('setup', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  ck = await tinyCheckpoint(rt, join(tmp, 'ck'), 1024); // room for a long request that is still running when others come
  await closeDevice();
  writeFileSync(join(ck.dir, 'notes.txt'), 'in the folder, but not a file a model load reads');
  srv = await startServe([
    '--checkpoint',
    ck.dir,
    '--max-batch',
    '2',
    '--max-queue',
    '2',
    '--max-body',
    '2KiB',
    '--max-gen-length',
    '512',
  ]);
});

test('bad requests: documented status, OpenAI error JSON, and the server keeps answering', async () => {
  if (!srv) return;
  const cases: [string, string, string | object, number, string | null][] = [
    ['POST', '/v1/completions', '{"prompt": "ab', 400, null],
    ['POST', '/v1/completions', { prompt: 'ab', max_tokens: '8' }, 400, 'max_tokens'],
    ['POST', '/v1/completions', { prompt: 5 }, 400, 'prompt'],
    ['POST', '/v1/completions', { prompt: 'ab', temperature: 'hot' }, 400, 'temperature'],
    ['POST', '/v1/completions', { prompt: 'ab', stream: 1 }, 400, 'stream'],
    ['POST', '/v1/completions', { prompt: 'ab', cache: 'all' }, 400, 'cache'],
    ['POST', '/v1/completions', { prompt: 'ab', max_tokens: 8, block_length: 3 }, 400, 'block_length'],
    ['POST', '/v1/chat/completions', { messages: [{ role: 'robot', content: 'x' }] }, 400, 'messages[0].role'],
    ['POST', '/v1/chat/completions', { messages: 'hi' }, 400, 'messages'],
    ['POST', '/v1/completions', { prompt: 'ab', max_tokens: 513 }, 400, 'max_tokens'],
    ['POST', '/v1/completions', { prompt: 'a'.repeat(600), max_tokens: 512 }, 400, 'max_tokens'],
    ['POST', '/v1/completions', { prompt: [1, 2, 99999] }, 400, 'prompt'],
    ['POST', '/v1/completions', { prompt: 'x'.repeat(3000) }, 413, null],
    ['GET', '/../../etc/passwd', '', 404, null],
    ['GET', '/v1/../../ck/config.json', '', 404, null],
    ['GET', '/%2e%2e/%2e%2e/etc/passwd', '', 404, null],
    ['GET', '/v1/models/..%2Fck%2Fmodel.safetensors', '', 404, 'model'],
    ['GET', '/v1/dllm/checkpoint/..%2F..%2Fetc%2Fpasswd', '', 404, null],
    ['GET', '/v1/dllm/checkpoint/%2e%2e%2fck%2fconfig.json', '', 404, null],
    ['GET', '/v1/dllm/checkpoint/../checkpoint/config.json/../../../etc/passwd', '', 404, null],
    ['GET', `/v1/dllm/checkpoint/${encodeURIComponent(join(tmp, 'ck', 'config.json'))}`, '', 404, null],
    ['GET', '/v1/dllm/checkpoint/config.json%00', '', 404, null],
    ['GET', '/v1/dllm/checkpoint/%E0%A4%A', '', 404, null],
    ['GET', '/v1/dllm/checkpoint/notes.txt', '', 404, null],
    ['POST', '/v1/dllm/checkpoint/config.json', '', 405, null],
    ['GET', '/v1/completions', '', 405, null],
  ];
  for (const [method, path, body, status, param] of cases) {
    const r = await raw(path, method, typeof body === 'string' ? body : JSON.stringify(body));
    const what = `${method} ${path} ${JSON.stringify(body).slice(0, 60)}`;
    assert.is(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
    assert.type(r.json.error.message, 'string', what);
    assert.type(r.json.error.type, 'string', what);
    assert.is(r.json.error.param, param, what);
  }
  // unknown fields are ignored, as OpenAI ignores them; the server still answers
  const ok = await post('/v1/completions', { prompt: 'ab', max_tokens: 4, frobnicate: { x: 1 }, user: 'me' });
  assert.is(ok.status, 200, JSON.stringify(ok.json));
  assert.is(ok.json.choices[0].token_ids.length <= 4, true);
  assert.is((await raw('/v1/models', 'GET')).status, 200);
});

test('the checkpoint files the in-browser mode loads: listed with sizes, whole with Content-Length, or by range', async () => {
  if (!srv) return;
  const m = (await (await fetch(`${srv.url}/v1/dllm/checkpoint`)).json()) as {
    files: { name: string; bytes: number }[];
  };
  assert.equal(m.files.map((f) => f.name).sort(), [
    'config.json',
    'model.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
  ]);
  const disk = readFileSync(join(ck.dir, 'model.safetensors'));
  assert.is(m.files.find((f) => f.name === 'model.safetensors')!.bytes, disk.length);
  const whole = await fetch(`${srv.url}/v1/dllm/checkpoint/model.safetensors`);
  assert.is(whole.headers.get('content-length'), String(disk.length));
  assert.ok(Buffer.from(await whole.arrayBuffer()).equals(disk), 'the file as it is on disk');
  const part = await fetch(`${srv.url}/v1/dllm/checkpoint/model.safetensors`, { headers: { range: 'bytes=8-23' } });
  assert.is(part.status, 206);
  assert.is(part.headers.get('content-range'), `bytes 8-23/${disk.length}`);
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(disk.subarray(8, 24)), 'bytes 8..23');
  const past = await fetch(`${srv.url}/v1/dllm/checkpoint/model.safetensors`, {
    headers: { range: `bytes=${disk.length}-` },
  });
  assert.is(past.status, 416);
});

test('a full queue answers 429 with Retry-After; a disconnect mid-stream stops its own work', async () => {
  if (!srv) return;
  const longest = { prompt: 'abcd', max_tokens: 512, block_length: 512, steps: 512 }; // seconds of work
  const long = { prompt: 'abcd', max_tokens: 64, block_length: 64, steps: 64, logits_eos_inf: true };
  const s0 = await stats();
  const x = stream(longest); // runs alone
  await x.firstStep();
  const a = stream({ ...long, prompt: 'wxyz' }); // a and c wait, then share a batch
  const c = post('/v1/completions', long);
  while ((await stats()).waiting < 2) await new Promise((r) => setTimeout(r, 5));
  const full = await post('/v1/completions', long);
  assert.is(full.status, 429, JSON.stringify(full.json));
  assert.ok(Number(full.headers['retry-after']) >= 1, `Retry-After ${String(full.headers['retry-after'])}`);
  assert.is(full.json.error.type, 'rate_limit_error');
  x.abort(); // x's batch stops at its next step: a and c start
  await x.done;
  await a.firstStep();
  a.abort();
  const cr = await c;
  assert.is(cr.status, 200);
  const s1 = await stats();
  // x: fewer than its 512 forwards; a + c: 64 forwards, a's row gone after its first few
  assert.ok(s1.forwards - s0.forwards < 512, `${s1.forwards - s0.forwards} forwards`);
  assert.ok(s1.rowsLeft - s0.rowsLeft >= 1, 'a left its batch');
  assert.is(s1.batches - s0.batches, 2);
  // c's answer is the one it gets alone
  const alone = await post('/v1/completions', long);
  assert.equal(cr.json.choices[0].token_ids, alone.json.choices[0].token_ids);
});

test('SIGTERM: the running request finishes, new ones are refused, exit 0', async () => {
  if (!srv) return;
  const x = stream({ prompt: 'abcd', max_tokens: 256, block_length: 256, steps: 256 });
  await x.firstStep();
  srv.proc.kill('SIGTERM');
  await x.done;
  assert.match(x.text(), /data: \[DONE\]\n\n$/);
  assert.is(await srv.exited, 0, srv.stderr());
  assert.match(srv.stderr(), /SIGTERM: finishing the running batch/);
  await raw('/v1/models', 'GET').then(
    () => assert.unreachable('the server still answers'),
    (e: NodeJS.ErrnoException) => assert.is(e.code, 'ECONNREFUSED'),
  );
});

test.after(async () => {
  if (srv && srv.proc.exitCode === null) srv.proc.kill('SIGKILL');
  await closeDevice();
  rmSync(tmp, { recursive: true, force: true });
});
test.run();
