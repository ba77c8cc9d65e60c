// Shared by the serve tests: a tiny random checkpoint whose logits are spread widely (init_std 0.5,
// so greedy decisions have clear leads), a `dllm-wgpu serve` process on a free loopback port, and
// the margin rule by which a batched or another process's greedy output may differ from a reference:
// only from a step where the float64 CPU sampler's top choice led its runner-up (or a commit its
// neighbour) by 1e-3 or less.
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { closeDevice, gpuDevice } from './gpu.ts';
import type { Device } from '../engine/device.ts';
import { createConfig, tokenizerConfigFields, type ModelConfig } from '../model/config.ts';
import { createModel, saveModel } from '../model/io.ts';
import { buildCharTokenizer, type Tokenizer } from '../model/tokenizer.ts';
import type { Weights } from './llada-ref.ts';
import { cpuGenerate } from '../sample/generate-ref.test-util.ts';

export const root = new URL('..', import.meta.url).pathname;
export const MARGIN = 1e-3;

export interface TinyCheckpoint {
  dir: string;
  cfg: ModelConfig;
  tok: Tokenizer;
  weights: Weights;
}

export async function tinyCheckpoint(rt: Device, dir: string, maxSeq = 64): Promise<TinyCheckpoint> {
  const tok = buildCharTokenizer('abcdefghijklmnopqrstuvwxyz0123456789+= \n');
  const cfg = createConfig({
    d_model: 16,
    n_heads: 2,
    n_kv_heads: 2,
    n_layers: 1,
    mlp_hidden_size: 24,
    max_sequence_length: maxSeq,
    ...tokenizerConfigFields(tok),
    init_fn: 'normal',
    init_std: 0.5,
  });
  const m = createModel(cfg, { device: rt, seed: 5 });
  await saveModel(m, dir, { tokenizer: tok });
  const weights: Weights = new Map();
  for (const p of m.params.order) weights.set(p.name, await m.params.get(p.name).read());
  m.tokenizer = null;
  m.dispose();
  return { dir, cfg, tok, weights };
}

export interface ServeProcess {
  url: string;
  proc: ChildProcess;
  stderr: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

export function startServe(args: string[]): Promise<ServeProcess> {
  const proc = spawn(process.execPath, [join(root, 'bin/dev.js'), 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 120 s:\n${err}`)), 120_000);
    proc.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], proc, stderr: () => err, exited });
      }
    });
    void exited.then((code) => reject(new Error(`serve exited (${code}) before listening:\n${err}`)));
  });
}

export interface Greedy {
  steps: number;
  gen: number;
  block: number;
  /** Token ids never predicted (a request's logits_eos_inf: the end tokens). */
  suppress?: number[];
}

/**
 * Generated positions (from 0) the float64 sampler decided firmly: those committed before its first
 * step with a lead or gap <= MARGIN. All of them when every step was firm.
 */
export function firmPositions(ck: TinyCheckpoint, prompt: number[], g: Greedy): { firm: Set<number>; all: boolean } {
  const states = cpuGenerate(
    ck.cfg,
    ck.weights,
    prompt,
    { ...g, cfgScale: 0, temperature: 0, remasking: 'low_confidence', seed: 0 },
    ck.cfg.mask_token_id,
  );
  const weak = states.findIndex((s) => !(s.tokenLead > MARGIN) || !(s.commitGap > MARGIN));
  const firm = new Set<number>();
  if (weak === 0) return { firm, all: false };
  const x = states[weak < 0 ? states.length - 1 : weak - 1].x;
  for (let j = 0; j < g.gen; j++) if (x[prompt.length + j] !== ck.cfg.mask_token_id) firm.add(j);
  return { firm, all: weak < 0 };
}

/** `got` (an answer's ids, ended) equals `want` (a reference answer's ids) at every firm position both have, and all of it when every step was firm. */
export function assertAgrees(got: number[], want: number[], f: { firm: Set<number>; all: boolean }, what: string) {
  if (f.all) return assert.equal(got, want, what);
  for (const j of f.firm)
    if (j < got.length && j < want.length) assert.is(got[j], want[j], `${what}: position ${j} (firmly decided)`);
}

/** A Chromium to drive (scripts/setup-browser.sh finds or installs one); null (with a SKIP line) where there is none, an error under CI=true. */
export function browserPath(): string | null {
  const r = spawnSync('bash', [join(root, 'scripts/setup-browser.sh')], { encoding: 'utf8', timeout: 1_800_000 });
  if (r.status === 0) return r.stdout.trim().split('\n').pop()!;
  if (process.env.CI === 'true') throw new Error(`no browser for the browser tests:\n${r.stderr}`);
  console.warn(`SKIP browser tests: ${r.stderr.trim()}`);
  return null;
}

export interface PageFixture {
  ck: TinyCheckpoint;
  srv: ServeProcess;
  browser: Browser;
}

/**
 * What the page tests drive: a tiny checkpoint under `tmp`, `serve` on it, and a headless Chromium
 * started with `args` (beside --no-sandbox). Null where there is no GPU adapter or no browser (the
 * tests then skip). The device used to write the checkpoint is closed before the server starts.
 */
export async function openPageFixture(tmp: string, args: string[] = []): Promise<PageFixture | null> {
  const rt = await gpuDevice();
  if (!rt) return null;
  const exe = browserPath();
  if (!exe) return null;
  const ck = await tinyCheckpoint(rt, join(tmp, 'ck'));
  await closeDevice();
  const srv = await startServe(['--checkpoint', ck.dir]);
  try {
    const { default: puppeteer } = await import('puppeteer-core');
    const browser = await puppeteer.launch({
      executablePath: exe,
      headless: true,
      args: ['--no-sandbox', ...args],
      timeout: 120_000,
    });
    return { ck, srv, browser };
  } catch (e) {
    srv.proc.kill('SIGTERM');
    throw e;
  }
}

/** Closes what openPageFixture opened and removes `tmp`. */
export async function closePageFixture(f: PageFixture | null, tmp: string): Promise<void> {
  await f?.browser.close();
  f?.srv.proc.kill('SIGTERM');
  if (f) await f.srv.exited;
  await closeDevice();
  rmSync(tmp, { recursive: true, force: true });
}
