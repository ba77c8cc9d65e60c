// The page at `/` in a real headless Chromium (Debian's, installed by scripts/setup-browser.sh
// where missing; driven by puppeteer-core): mid-run (slowed to 250 ms per step, end tokens off) the
// canvas shows masked and committed cells side by side, and none are masked at the end.
// DLLM_WGPU_SCREENSHOT=docs/serve-page.png saves that moment. The page's greedy answers, in server
// mode and in the browser, are compared with `sample --json` in tests/serve-browser.test.ts.
// Without a browser the tests skip visibly, except under CI=true.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { closePageFixture, openPageFixture, type PageFixture, type ServeProcess } from './serve.test-util.ts';

const tmp = mkdtempSync(join(tmpdir(), 'serve-page-'));
let srv: ServeProcess;
let browser: Browser | undefined;
let fx: PageFixture | null = null;

async function setKnobs(page: Page, knobs: Record<string, string>): Promise<void> {
  for (const [id, v] of Object.entries(knobs))
    await page.evaluate(`document.getElementById(${JSON.stringify(id)}).value = ${JSON.stringify(v)}`);
}

test('setup: a browser, a tiny checkpoint, a server', async () => {
  fx = await openPageFixture(tmp);
  if (fx) ({ srv, browser } = fx);
});

test('mid-run the canvas shows masked and committed cells (the screenshot)', async () => {
  if (!browser) return;
  const page = await browser.newPage();
  await page.setViewport({ width: 900, height: 560 });
  await page.goto(`${srv.url}/`);
  await setKnobs(page, { prompt: 'the cat=', max_tokens: '32', block_length: '8', steps: '32', delay: '250' });
  await page.click('#no_eos'); // the random model would end its answer in the first block
  await page.click('#run');
  await page.waitForFunction('Number(document.body.dataset.nfe) >= 13', { timeout: 60_000 });
  const masked = await page.$$eval('#canvas span.m', (s) => s.length);
  const shot = process.env.DLLM_WGPU_SCREENSHOT ?? join(tmp, 'page.png');
  await page.screenshot({ path: shot });
  assert.ok(masked > 0 && masked < 32, `${masked} of 32 cells masked mid-run`);
  assert.ok(statSync(shot).size > 10_000, 'a screenshot was written');
  await page.waitForFunction("document.body.dataset.state === 'done'", { timeout: 60_000 });
  assert.is(await page.$$eval('#canvas span.m', (s) => s.length), 0, 'no mask left at the end');
  await page.close();
});

test.after(() => closePageFixture(fx, tmp));
test.run();
