// The loader the page's in-browser mode uses, run here in Node over HTTP (fetch is the same API):
// a sharded checkpoint served as plain files loads into the same parameter values, bit for bit, as
// loadModel reads from the folder, tokenizer included; a model that cannot fit the adapter is
// refused from its config.json alone, before any weight file is requested.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDevice, gpuDevice } from '../tests/gpu.ts';
import { openDevice } from '../engine/device.ts';
import { UserError } from '../engine/errors.ts';
import { createConfig, tokenizerConfigFields } from './config.ts';
import { saveConfig } from './config-file.ts';
import { buildCharTokenizer } from './tokenizer.ts';
import { createModel, loadModel, saveModel } from './io.ts';
import { loadRemoteModel } from './remote-checkpoint.ts';

const dir = mkdtempSync(join(tmpdir(), 'remote-ck-'));
const asked: string[] = [];
let server: Server;
let base = '';

test.before(async () => {
  server = createServer((req, res) => {
    const name = decodeURIComponent(req.url!.slice(1));
    asked.push(name);
    try {
      const data = readFileSync(join(dir, name));
      res.writeHead(200, { 'content-length': data.length });
      res.end(data);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const a = server.address();
  base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/`;
});

test('a sharded checkpoint over HTTP loads as the folder does, bit for bit', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const tok = buildCharTokenizer('abcdefgh =');
  const cfg = createConfig({
    d_model: 32,
    n_heads: 2,
    n_layers: 2,
    mlp_hidden_size: 48,
    ...tokenizerConfigFields(tok),
  });
  const m = createModel(cfg, { device: rt, seed: 3 });
  await saveModel(m, dir, { tokenizer: tok, maxShardBytes: 20_000 });
  m.dispose();
  const files = readdirSync(dir);
  assert.ok(files.filter((f) => f.endsWith('.safetensors')).length > 1, `shards: ${files.join(' ')}`);
  const fromDir = await loadModel(dir, { device: rt });
  asked.length = 0;
  const downloads = new Set<string>();
  const fromHttp = await loadRemoteModel(
    { base, files, dtype: 'f32' },
    { device: rt, onDownload: (f, bytes, total) => bytes === total && downloads.add(f) },
  );
  assert.ok(asked.includes('model.safetensors.index.json') && asked.includes('tokenizer.json'), asked.join(' '));
  assert.equal([...downloads].sort(), files.filter((f) => f.endsWith('.safetensors')).sort(), 'every shard, in full');
  for (const p of fromDir.params.order) {
    const a = await fromDir.params.get(p.name).read();
    const b = await fromHttp.params.get(p.name).read();
    assert.equal(Array.from(b), Array.from(a), p.name);
  }
  assert.equal(fromHttp.tokenizer!.encode('abc = d'), tok.encode('abc = d'));
  fromDir.dispose();
  fromHttp.dispose();
});

test("a model over the adapter's limits is refused from config.json alone", async () => {
  if (!(await gpuDevice())) return;
  // 24 MB embedding and LM head (6000 x 1024 f32) against a 16 MiB buffer limit; no weights on the server
  mkdirSync(join(dir, 'big'));
  saveConfig(join(dir, 'big'), createConfig({ d_model: 1024, n_heads: 8, vocab_size: 6000, embedding_size: 6000 }));
  const small = await openDevice({ limits: { maxBufferSize: 16 << 20 } });
  asked.length = 0;
  try {
    await loadRemoteModel(
      { base: base + 'big/', files: ['config.json', 'model.safetensors'], dtype: 'f32' },
      { device: small },
    );
    assert.unreachable('loaded');
  } catch (e) {
    assert.instance(e, UserError, String(e));
    assert.match((e as Error).message, /maxBufferSize/);
  } finally {
    await small.destroy();
  }
  assert.equal(asked, ['big/config.json'], 'no weight file was requested');
});

test.after(async () => {
  server?.close();
  await closeDevice();
  rmSync(dir, { recursive: true, force: true });
});
test.run();
