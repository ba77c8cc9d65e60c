// What `serve` hands the page's in-browser mode: the engine bundle at /dllm-wgpu.js, a manifest of
// the checkpoint (GET /v1/dllm/checkpoint) and the checkpoint's own files under
// /v1/dllm/checkpoint/<name>, read-only. Only the files a model load reads are offered, each
// looked up by its exact name in a table made at start (config.json, model.safetensors or the
// shard index and the shards it names, tokenizer.json, tokenizer_config.json): any other name,
// `..` and encoded slashes included, is a 404, so no URL reaches another file. Files stream with
// their Content-Length; a single `Range: bytes=a-b` is honoured (206), so a client may fetch a
// large shard in parts.
// The bundle: dist/browser/dllm-wgpu.js next to the compiled server (npm run build writes it); in a
// source checkout, scripts/bundle-browser.mjs bundles it in memory on the first request with
// esbuild, a dev dependency loaded only then (the CLI never needs it: an install without dev
// dependencies runs from dist/, which has the file).
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { INDEX_FILE, SINGLE_FILE, parseWeightIndex } from '../model/checkpoint-weights.ts';
import { HttpError } from './request.ts';

export const FILES_ROUTE = '/v1/dllm/checkpoint';
export const BUNDLE_ROUTE = '/dllm-wgpu.js';

/** The checkpoint's files a model load reads: name -> path. */
export function checkpointFiles(dir: string): Map<string, string> {
  const names = ['config.json'];
  if (existsSync(join(dir, SINGLE_FILE))) names.push(SINGLE_FILE);
  else if (existsSync(join(dir, INDEX_FILE))) {
    const index = parseWeightIndex(JSON.parse(readFileSync(join(dir, INDEX_FILE), 'utf8')), join(dir, INDEX_FILE));
    names.push(INDEX_FILE, ...new Set(index.values()));
  }
  for (const t of ['tokenizer.json', 'tokenizer_config.json']) if (existsSync(join(dir, t))) names.push(t);
  return new Map(names.map((n) => [n, join(dir, n)]));
}

/**
 * GET /dllm-wgpu.js, /v1/dllm/checkpoint (the manifest: `about` plus the files with their sizes)
 * and /v1/dllm/checkpoint/<file>. `files` is null when the server has no checkpoint folder.
 */
export async function browserRoute(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  files: Map<string, string> | null,
  about: () => object,
): Promise<void> {
  if (path === BUNDLE_ROUTE) {
    const code = await browserBundle();
    res.writeHead(200, {
      'content-type': 'text/javascript; charset=utf-8',
      'content-length': Buffer.byteLength(code),
      'cache-control': 'no-cache',
    });
    return void res.end(code);
  }
  if (!files) throw new HttpError(404, 'this server offers no checkpoint files');
  if (path === FILES_ROUTE) {
    const list = [...files].map(([name, p]) => ({ name, bytes: statSync(p).size }));
    const data = JSON.stringify({ ...about(), base: FILES_ROUTE + '/', files: list });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
    return void res.end(data);
  }
  let name: string;
  try {
    name = decodeURIComponent(path.slice(FILES_ROUTE.length + 1));
  } catch {
    throw new HttpError(404, `no route ${req.method} ${path.slice(0, 200)}`);
  }
  sendFile(req, res, files, name);
}

/** Send one of `files` (by exact name), honouring a single byte range. */
function sendFile(req: IncomingMessage, res: ServerResponse, files: Map<string, string>, name: string): void {
  const path = files.get(name);
  if (path === undefined) throw new HttpError(404, `the checkpoint offers no file ${name.slice(0, 200)}`);
  const size = statSync(path).size;
  const type = name.endsWith('.json') ? 'application/json' : 'application/octet-stream';
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  let start = 0,
    end = size - 1,
    status = 200;
  const headers: Record<string, string | number> = { 'content-type': type, 'accept-ranges': 'bytes' };
  if (range && (range[1] || range[2])) {
    if (range[1]) {
      start = Number(range[1]);
      if (range[2]) end = Math.min(Number(range[2]), size - 1);
    } else start = Math.max(0, size - Number(range[2])); // bytes=-N: the last N bytes
    if (start > end || start >= size) {
      res.writeHead(416, { 'content-range': `bytes */${size}` });
      return void res.end();
    }
    status = 206;
    headers['content-range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['content-length'] = end - start + 1;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || size === 0) return void res.end();
  createReadStream(path, { start, end })
    .on('error', () => res.destroy())
    .pipe(res);
}

let bundle: Promise<string> | null = null;

/** The in-browser engine's code: the built file, else bundled now from the sources (once). */
export function browserBundle(): Promise<string> {
  if (bundle) return bundle;
  bundle = (async () => {
    const built = new URL('../browser/dllm-wgpu.js', import.meta.url);
    if (existsSync(built)) return readFileSync(built, 'utf8');
    const script = new URL('../scripts/bundle-browser.mjs', import.meta.url);
    const fail = (why: string) =>
      new HttpError(
        503,
        `the in-browser engine is not built (${why}): run \`npm run build\` (writes dist/browser/dllm-wgpu.js), or use the server mode`,
      );
    if (!existsSync(script)) throw fail('no dist/browser/dllm-wgpu.js');
    try {
      const mod = (await import(script.href)) as { bundleBrowser(): Promise<string> };
      return await mod.bundleBrowser();
    } catch (e) {
      throw fail(`bundling from the sources failed: ${(e as Error).message.split('\n')[0]}`);
    }
  })();
  bundle.catch(() => {
    bundle = null; // a failure is retried on the next request
  });
  return bundle;
}
