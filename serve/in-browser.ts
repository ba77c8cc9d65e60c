// The page's in-browser mode: the entry point bundled for the browser (scripts/bundle-browser.mjs,
// served at /dllm-wgpu.js). It opens a device on the tab's own WebGPU (navigator.gpu, through
// engine/gpu-device.ts), loads the checkpoint the server offers by fetching its files
// (model/remote-checkpoint.ts), and answers a request body exactly as the server would: the same
// checks and defaults (request.ts), the same batcher, sampler and model code (batcher.ts), the same
// text and canvas per step (rows.ts). The server does no model compute for it.
// Deliberately not here: the page's drawing (page.ts), anything of Node: this file and what it
// imports must bundle for a browser (the bundle test checks that no Node module gets in).
import { openDeviceOn, type Device } from '../engine/gpu-device.ts';
import { UserError } from '../engine/errors.ts';
import { installHooks } from '../kernels/elementwise/elementwise.ts';
import { loadRemoteModel } from '../model/remote-checkpoint.ts';
import type { LLaDAModel } from '../model/llada.ts';
import type { ParamDType } from '../model/params.ts';
import { endTokenIds } from '../model/tokenizer.ts';
import { Batcher, type RowSink } from './batcher.ts';
import { parseRequest, type ServeLimits } from './request.ts';
import { RowText } from './rows.ts';

/** What GET /v1/dllm/checkpoint answers: the files the browser may fetch and the server's limits. */
export interface CheckpointManifest {
  model: string;
  /** Where the files are, ending in '/'. */
  base: string;
  files: { name: string; bytes: number }[];
  dtype: ParamDType;
  /** The server applies a LoRA adapter the browser mode does not load. */
  adapter: boolean;
  limits: ServeLimits;
}

export interface StepEvent {
  nfe: number;
  block: number;
  step: number;
  /** The generated region as text per position, null where still masked. */
  canvas: (string | null)[];
  elapsedS: number;
}

export interface BrowserAnswer {
  text: string;
  tokenIds: number[];
  finishReason: string | null;
  nfe: number;
  seconds: number;
}

export interface BrowserModel {
  /** The adapter as the browser named it (vendor, architecture, description). */
  adapterName: string;
  model: LLaDAModel;
  /** A completions (or chat) request body, answered in this tab; `onStep` after every step. */
  run(body: unknown, chat: boolean, onStep?: (e: StepEvent) => void): Promise<BrowserAnswer>;
  dispose(): Promise<void>;
}

export interface LoadProgress {
  file: string;
  bytes: number;
  total: number;
}

/** Open a device on the tab's WebGPU and load the checkpoint the manifest at `manifestUrl` (absolute) names. */
export async function openBrowserModel(
  manifestUrl: string,
  onProgress?: (p: LoadProgress) => void,
): Promise<BrowserModel> {
  const res = await fetch(manifestUrl);
  if (!res.ok) throw new UserError(`${manifestUrl}: the server answered ${res.status}`);
  const m = (await res.json()) as CheckpointManifest;
  if (m.adapter)
    throw new UserError(
      'this server applies a LoRA adapter (--adapter), which the in-browser mode does not load: use the server mode',
    );
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (!nav?.gpu)
    throw new UserError(
      'this browser has no WebGPU (navigator.gpu): use Chrome or Edge 113 or later (Chromium on Linux needs ' +
        '--enable-unsafe-webgpu), on a page opened over http://localhost or https',
    );
  const dev: Device = await openDeviceOn(nav.gpu, {
    noAdapter: 'this browser offers no WebGPU adapter (blocked, or no usable GPU driver): use the server mode',
  });
  let model: LLaDAModel;
  try {
    installHooks(dev);
    model = await loadRemoteModel(
      { base: new URL(m.base, manifestUrl).href, files: m.files.map((f) => f.name), dtype: m.dtype },
      { device: dev, onDownload: (file, bytes, total) => onProgress?.({ file, bytes, total }) },
    );
  } catch (e) {
    await dev.destroy();
    throw e;
  }
  const a = dev.adapter;
  const adapterName = [a.vendor, a.architecture, a.description].filter((s) => s).join(' ') || 'unnamed adapter';
  const batcher = new Batcher(model, { maxBatch: m.limits.maxBatch, maxQueue: 1 });
  const tok = model.tokenizer;
  const endIds = tok ? endTokenIds(tok) : [model.config.eos_token_id];
  return {
    adapterName,
    model,
    async run(body, chat, onStep) {
      const p = parseRequest(body, chat, model, m.limits);
      const text = new RowText(tok, endIds, model.config.mask_token_id, p.knobs.blockLength, p.stop);
      const t0 = performance.now();
      let nfe = 0;
      await new Promise<void>((resolve, reject) => {
        let ended = false;
        const row: RowSink = {
          ids: p.rows[0].ids,
          seed: p.rows[0].seed,
          cancelled: () => ended,
          onStep(gen, info) {
            nfe = info.nfe;
            if (ended) return;
            onStep?.({ ...info, canvas: text.canvas(gen), elapsedS: (performance.now() - t0) / 1000 });
            text.update(gen);
            if (text.finish) {
              ended = true;
              resolve();
            }
          },
          onEnd(gen, err) {
            if (ended) return;
            ended = true;
            if (err) return reject(err);
            text.update(gen, true);
            resolve();
          },
        };
        batcher.submit({ knobs: p.knobs, rows: [row] });
      });
      await batcher.whenIdle();
      return {
        text: text.text,
        tokenIds: text.ids,
        finishReason: text.finish,
        nfe,
        seconds: (performance.now() - t0) / 1000,
      };
    },
    async dispose() {
      model.dispose();
      await dev.destroy();
    },
  };
}
