// The page's in-browser mode in a real headless Chromium (WebGPU with --enable-unsafe-webgpu:
// SwiftShader here, where there is no GPU): the page loads the engine bundle and the checkpoint's
// files, runs a greedy sample on the tab's own adapter and ends with `sample --json`'s answer,
// token for token wherever the float64 sampler decided by more than 1e-3 (the browser's adapter is
// another one than the CLI's), while the server runs no forward at all; the same page in server
// mode gets the same answer, and there the server's counters do move. Also: the bundle holds
// the engine, the kernels and the tokenizer library, and nothing of Node, Dawn or the test tools.
// Without a browser the tests skip visibly, except under CI=true.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { endTokenIds } from '../model/tokenizer.ts';
import { trimEnd } from '../sample/generate.ts';
import {
  assertAgrees,
  closePageFixture,
  firmPositions,
  openPageFixture,
  root,
  type PageFixture,
  type ServeProcess,
  type TinyCheckpoint,
} from './serve.test-util.ts';

const tmp = mkdtempSync(join(tmpdir(), 'serve-browser-'));
let ck: TinyCheckpoint;
let srv: ServeProcess;
let browser: Browser | undefined;
let fx: PageFixture | null = null;
const stats = async () => (await (await fetch(`${srv.url}/v1/dllm/stats`)).json()) as Record<string, number>;

test('setup: a browser with WebGPU, a tiny checkpoint, a server', async () => {
  fx = await openPageFixture(tmp, ['--enable-unsafe-webgpu']);
  if (fx) ({ ck, srv, browser } = fx);
});

test('the bundle: engine, kernels and tokenizers, nothing of Node, Dawn, fast-check or uvu', async () => {
  if (!srv) return;
  const res = await fetch(`${srv.url}/dllm-wgpu.js`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /javascript/);
  const code = await res.text();
  // esbuild names each bundled module in a comment: what got in is readable from the code.
  for (const part of ['engine/gpu-device.ts', 'kernels/matmul/matmul.ts', 'model/llada.ts', 'sample/generate.ts'])
    assert.ok(code.includes(`// ${part}`), `${part} is in the bundle`);
  assert.match(code, /node_modules\/@huggingface\/tokenizers\//);
  assert.match(code, /export\s*\{[^}]*openBrowserModel/);
  assert.not.match(code, /node_modules\/(webgpu|fast-check|uvu)\//, 'Dawn or a test tool in the bundle');
  assert.not.match(code, /\bfrom\s*["'](node:|webgpu["'])|\brequire\(\s*["']|\bimport\(\s*["'](node:|webgpu)/);
});

/** One run from the page in `mode`; what the page shows at the end, and the server's counters' change. */
async function runPage(page: Page, mode: 'browser' | 'server') {
  await page.select('#mode', mode);
  const before = await stats();
  await page.click('#run');
  await page.waitForFunction("['done', 'failed'].includes(document.body.dataset.state)", { timeout: 120_000 });
  const error = (await page.evaluate("document.getElementById('error').textContent")) as string;
  assert.is(await page.evaluate('document.body.dataset.state'), 'done', `${mode}: ${error}`);
  const after = await stats();
  await page.evaluate('delete document.body.dataset.state');
  return {
    ids: JSON.parse((await page.evaluate('document.body.dataset.tokenIds')) as string) as number[],
    text: (await page.evaluate("document.getElementById('output').textContent")) as string,
    nfe: Number(await page.evaluate("document.getElementById('nfe').textContent")),
    cells: await page.$$eval('#canvas span', (s) => s.length),
    forwards: after.forwards - before.forwards,
    batches: after.batches - before.batches,
  };
}

test("greedy samples in the browser and on the server equal sample --json's; in-browser the server computes nothing", async () => {
  if (!browser) return;
  const page = await browser.newPage();
  await page.goto(`${srv.url}/`);
  for (const [id, v] of Object.entries({ prompt: 'abc=', max_tokens: '8', block_length: '4', steps: '8' }))
    await page.evaluate(`document.getElementById(${JSON.stringify(id)}).value = ${JSON.stringify(v)}`);
  await page.click('#no_eos'); // the random model would end its answer at once: every position counts
  const local = await runPage(page, 'browser');
  const adapter = (await page.evaluate('document.body.dataset.adapter')) as string;
  const served = await runPage(page, 'server');
  const r = spawnSync(
    process.execPath,
    [join(root, 'bin/dev.js'), 'sample', '--checkpoint', ck.dir, '--prompt', 'abc=', '--mode', 'raw'].concat([
      '--gen-length',
      '8',
      '--block-length',
      '4',
      '--logits-eos-inf',
      '--json',
    ]),
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.is(r.status, 0, r.stderr);
  const cli = JSON.parse(r.stdout) as { prompt_ids: number[]; output_ids: number[]; text: string };
  const want = trimEnd(cli.output_ids, endTokenIds(ck.tok), ck.cfg.mask_token_id);
  const firm = firmPositions(ck, cli.prompt_ids, { gen: 8, block: 4, steps: 8, suppress: endTokenIds(ck.tok) });
  for (const [what, run] of [
    ['in-browser', local],
    ['server', served],
  ] as const) {
    assertAgrees(run.ids, want, firm, what);
    if (firm.all) assert.is(run.text, cli.text, what);
    assert.is(run.ids.length, 8, `${what}: no end token, so the whole region is the answer`);
    assert.ok(run.nfe >= 4 && run.nfe <= 8, `${what}: NFE ${run.nfe}`);
    assert.is(run.cells, 8, `${what}: a cell per generated position`);
  }
  assert.ok(adapter.length > 0, 'the page names the adapter the browser gave');
  assert.is(local.forwards, 0, 'in-browser: the server ran no forward');
  assert.is(local.batches, 0, 'in-browser: the server ran no batch');
  assert.ok(
    served.forwards >= 4 && served.batches === 1,
    `server mode: ${served.forwards} forwards, ${served.batches} batches`,
  );
  await page.close();
});

test.after(() => closePageFixture(fx, tmp));
test.run();
