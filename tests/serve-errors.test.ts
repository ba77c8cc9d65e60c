// The server's 500 path, in process: when the model run fails (here the model's forward throws once,
// as a lost device or a kernel error would), a plain request gets OpenAI's error JSON with status
// 500 and type server_error, a streamed one gets the error as its last event, and the server keeps
// serving: the next request is answered 200 with the tokens it gets alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeDevice, gpuDevice } from './gpu.ts';
import { createConfig, tokenizerConfigFields } from '../model/config.ts';
import { createModel } from '../model/io.ts';
import { buildCharTokenizer } from '../model/tokenizer.ts';
import type { LLaDAModel } from '../model/llada.ts';
import { startServer, type DllmServer } from '../serve/server.ts';

let srv: DllmServer | undefined;
let model: LLaDAModel;
let url = '';
const body = { prompt: 'ab', max_tokens: 4, block_length: 4, steps: 4, logits_eos_inf: true };
const post = (b: object) => fetch(`${url}/v1/completions`, { method: 'POST', body: JSON.stringify(b) });

test.before(async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const tok = buildCharTokenizer('abcdef');
  model = createModel(
    createConfig({ d_model: 16, n_heads: 2, n_layers: 1, mlp_hidden_size: 24, ...tokenizerConfigFields(tok) }),
    {
      device: rt,
      seed: 1,
    },
  );
  model.tokenizer = tok;
  srv = startServer(model, { modelId: 't', maxBatch: 4, maxQueue: 4, maxBody: 1 << 16, defaultGenLength: 4 });
  await new Promise<void>((ok) => srv!.http.listen(0, '127.0.0.1', ok));
  const a = srv.http.address();
  url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});

/** Make the model's next forward throw, as a failing device would. */
function failNextForward(): void {
  const hidden = model.hidden.bind(model);
  model.hidden = () => {
    model.hidden = hidden;
    throw new Error('GPU device lost (test)');
  };
}

test('a failed model run answers 500 in OpenAI shape; the server keeps serving', async () => {
  if (!srv) return;
  const good = (await (await post(body)).json()) as { choices: { token_ids: number[] }[] };
  failNextForward();
  const bad = await post(body);
  assert.is(bad.status, 500);
  const e = (await bad.json()) as { error: { message: string; type: string; param: unknown; code: unknown } };
  assert.is(e.error.type, 'server_error');
  assert.match(e.error.message, /the model run failed: GPU device lost \(test\)/);
  failNextForward();
  const streamed = await (await post({ ...body, stream: true })).text();
  assert.match(streamed, /data: \{"error":\{"message":"the model run failed: GPU device lost \(test\)"/);
  assert.not.match(streamed, /\[DONE\]/, 'a failed stream does not claim to be done');
  const again = await post(body);
  assert.is(again.status, 200);
  const a = (await again.json()) as { choices: { token_ids: number[] }[] };
  assert.equal(a.choices[0].token_ids, good.choices[0].token_ids, 'the same answer as before the failure');
  assert.is(srv.batcher.stats.batches, 4);
});

test.after(async () => {
  if (srv) await srv.shutdown();
  model?.dispose();
  await closeDevice();
});
test.run();
