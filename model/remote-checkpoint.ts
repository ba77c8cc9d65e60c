// A checkpoint loaded over HTTP, as a browser tab loads the one `serve` offers: config.json, the
// safetensors file (or the shard index and its shards) and the tokenizer files fetched with
// `fetch`, each held whole in memory as bytes while the model loads (safetensors-format.ts reads
// them as it reads files), then uploaded by load.ts exactly as a folder is. The files to fetch are
// named by the caller (the server's list), so nothing is probed. Before any weight is downloaded
// the config is checked against the adapter (load.ts checkModelFits): a model that cannot fit is
// refused with the numbers, not after a long download.
// Deliberately not here: the server side (serve/server.ts), any Node API: this runs in a browser.
import { UserError } from '../engine/errors.ts';
import { parseConfigText } from './config.ts';
import {
  fileWeights,
  indexedWeights,
  INDEX_FILE,
  parseWeightIndex,
  SINGLE_FILE,
  type Weights,
} from './checkpoint-weights.ts';
import { bytesSource, SafetensorsReader } from './safetensors-format.ts';
import { parseJsonObject, tokenizerFromFiles } from './tokenizer.ts';
import { checkModelFits, loadModelFrom, type LoadOptions } from './load.ts';
import type { LLaDAModel } from './llada.ts';
import type { ParamDType } from './params.ts';

export interface RemoteCheckpoint {
  /** URL of the folder the files are under, ending in '/'. */
  base: string;
  /** The file names the server offers (config.json, the weights, tokenizer files). */
  files: readonly string[];
  /** Storage of the weight matrices (the dtype the server loaded them in). */
  dtype: ParamDType;
}

export interface RemoteLoadOptions extends LoadOptions {
  /** Bytes of each file received so far (download progress). */
  onDownload?(file: string, bytes: number, total: number): void;
}

async function get(url: string, file: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new UserError(`${url}: cannot fetch (${(e as Error).message})`);
  }
  if (!res.ok) throw new UserError(`${url}: the server answered ${res.status} for ${file}`);
  return res;
}

/** A file's bytes, read into one buffer of its Content-Length as they arrive. */
async function fetchBytes(
  base: string,
  file: string,
  onDownload?: RemoteLoadOptions['onDownload'],
): Promise<Uint8Array> {
  const url = base + encodeURIComponent(file);
  const res = await get(url, file);
  const total = Number(res.headers.get('content-length'));
  if (!res.body || !Number.isSafeInteger(total)) return new Uint8Array(await res.arrayBuffer());
  let out: Uint8Array;
  try {
    out = new Uint8Array(total);
  } catch {
    throw new UserError(
      `${url}: ${(total / 2 ** 30).toFixed(2)} GiB does not fit in this tab's memory (the browser mode holds ` +
        'each file whole while it loads): use a smaller checkpoint, or the server mode',
    );
  }
  const reader = res.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  let at = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (at + value.length > total) throw new UserError(`${url}: more bytes than its Content-Length ${total}`);
    out.set(value, at);
    at += value.length;
    onDownload?.(file, at, total);
  }
  if (at !== total) throw new UserError(`${url}: ${at} bytes of ${total} arrived (connection cut?)`);
  return out;
}

async function fetchText(base: string, file: string): Promise<string> {
  return (await get(base + encodeURIComponent(file), file)).text();
}

/** Load the model of the checkpoint at `ck.base` onto `opts.device`. */
export async function loadRemoteModel(ck: RemoteCheckpoint, opts: RemoteLoadOptions): Promise<LLaDAModel> {
  const has = (f: string) => ck.files.includes(f);
  const where = (f: string) => ck.base + f;
  const config = parseConfigText(await fetchText(ck.base, 'config.json'), where('config.json'));
  const dtype = opts.dtype ?? ck.dtype;
  checkModelFits(opts.device, config, ck.base, dtype);
  const readers = new Map<string, SafetensorsReader>();
  const open = async (file: string) => {
    let r = readers.get(file);
    if (!r) {
      r = SafetensorsReader.over(
        where(file),
        bytesSource(await fetchBytes(ck.base, file, (f, b, t) => opts.onDownload?.(f, b, t))),
      );
      readers.set(file, r);
    }
    return r;
  };
  let weights: Weights;
  if (has(SINGLE_FILE)) weights = fileWeights(where(SINGLE_FILE), await open(SINGLE_FILE));
  else if (has(INDEX_FILE)) {
    const index = parseWeightIndex(
      parseJsonObject(await fetchText(ck.base, INDEX_FILE), where(INDEX_FILE)),
      where(INDEX_FILE),
    );
    for (const file of new Set(index.values())) {
      if (!has(file)) throw new UserError(`${where(INDEX_FILE)}: shard ${file} is not offered by the server`);
      await open(file);
    }
    weights = indexedWeights(where(INDEX_FILE), index, readers);
  } else throw new UserError(`${ck.base}: the server offers no ${SINGLE_FILE} or ${INDEX_FILE}`);
  let tokFiles: { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown> } | null = null;
  if (has('tokenizer.json')) {
    const tokenizerJson = parseJsonObject(await fetchText(ck.base, 'tokenizer.json'), where('tokenizer.json'));
    const tokenizerConfig = has('tokenizer_config.json')
      ? parseJsonObject(await fetchText(ck.base, 'tokenizer_config.json'), where('tokenizer_config.json'))
      : {};
    tokFiles = { tokenizerJson, tokenizerConfig };
  }
  try {
    return await loadModelFrom(
      {
        config,
        weights,
        source: ck.base,
        tokenizer: () => (tokFiles ? tokenizerFromFiles(tokFiles, where('tokenizer.json')) : null),
      },
      { ...opts, dtype },
    );
  } finally {
    weights.close();
  }
}
