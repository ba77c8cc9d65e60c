// Model checkpoints in the Hugging Face layout LLaDA publishes: config.json, model.safetensors (or
// shards + model.safetensors.index.json), tokenizer.json / tokenizer_config.json. Loading first
// checks the tensors against config.json and the model's size against the adapter, then streams
// every tensor in chunks of at most 64 MiB through one reusable host buffer into its arena view;
// saving reads the parameters back in 64 MiB ranges as they are written: host memory stays flat
// at any model size. Also createModel: a seeded random from-scratch model.
// Deliberately not here: optimizer state and trainer state (train/state.ts).
import { existsSync, mkdirSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import type { Runtime } from '../engine/runtime.ts';
import { UserError } from '../engine/errors.ts';
import { loadConfig, saveConfig, type ModelConfig } from './config.ts';
import { LLaDAModel } from './llada.ts';
import { checkWeightsMatch } from './names.ts';
import { openCheckpointWeights, saveShardedWeights, type CheckpointWeights } from './weights-dir.ts';
import { parameterTable } from './names.ts';
import { loadTokenizer, saveTokenizer, type Tokenizer } from './tokenizer.ts';
import { initValues } from './init.ts';

export interface LoadProgress {
  /** Bytes of f32 parameters uploaded so far, and in all. */
  bytes: number;
  total: number;
  seconds: number;
}

export interface LoadOptions {
  device: Runtime;
  /** Called after each tensor is uploaded (progress display; memory measurements in tests). */
  onTensor?(name: string, index: number, count: number): void;
  /** Called after each chunk is uploaded. */
  onProgress?(p: LoadProgress): void;
  /** Host bytes read, converted and uploaded at a time (default 64 MiB; lower in tests). */
  chunkBytes?: number;
}

const CHUNK_BYTES = 64 << 20;
/** Chunks uploaded between waits on the queue: bounds Dawn's upload staging in flight. */
const CHUNKS_PER_SYNC = 2;

/**
 * Refuse, before anything is allocated, a model whose f32 parameters cannot fit the adapter: its
 * largest buffer (the parameter arena, model/params.ts) over maxBufferSize, or, on a CPU adapter
 * (whose "GPU memory" is host memory), more than the host's free memory.
 */
export function checkModelFits(rt: Runtime, cfg: ModelConfig, source: string): void {
  const count = parameterTable(cfg).reduce((s, p) => s + p.shape.reduce((a, d) => a * d, 1), 0);
  const bytes = count * 4;
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  const max = rt.limits.maxBufferSize;
  if (bytes > max) {
    throw new UserError(
      `${source}: the model's ${count} parameters need ${gib(bytes)} in f32 in one buffer; this adapter allows ` +
        `${gib(max)} per buffer (maxBufferSize): use a device with more memory or a smaller model`,
    );
  }
  const info = (rt as { adapterInfo?: { architecture?: string; description?: string } }).adapterInfo;
  const cpu = info?.architecture === 'software' || /llvmpipe|lavapipe|swiftshader|warp/i.test(info?.description ?? '');
  if (cpu && bytes > freemem()) {
    throw new UserError(
      `${source}: the model's ${count} parameters need ${gib(bytes)} in f32; this CPU adapter computes in host ` +
        `memory and ${gib(freemem())} of it is free: free memory or use a smaller model`,
    );
  }
}

export async function loadModel(dir: string, opts: LoadOptions): Promise<LLaDAModel> {
  if (!existsSync(dir)) throw new UserError(`checkpoint folder not found: ${dir}`);
  const cfg = loadConfig(dir);
  const w = openCheckpointWeights(dir);
  try {
    const shapes = new Map(w.names().map((n) => [n, w.info(n).shape]));
    checkWeightsMatch(cfg, shapes, dir);
    checkModelFits(opts.device, cfg, dir);
    const model = new LLaDAModel(opts.device, cfg);
    try {
      await upload(model, w, opts);
    } catch (e) {
      model.dispose();
      throw e;
    }
    if (existsSync(join(dir, 'tokenizer.json'))) model.tokenizer = loadTokenizer(dir);
    return model;
  } finally {
    w.close();
  }
}

/**
 * Every tensor read, converted and uploaded in chunks of at most chunkBytes through one reusable
 * host buffer, waiting for the queue every CHUNKS_PER_SYNC chunks so Dawn's upload staging drains:
 * host memory stays flat whatever the size of the largest tensor.
 */
async function upload(model: LLaDAModel, w: CheckpointWeights, opts: LoadOptions): Promise<void> {
  const rt = opts.device;
  const chunk = Math.max(1, Math.floor((opts.chunkBytes ?? CHUNK_BYTES) / 4));
  const order = model.params.order;
  const sizes = order.map((p) => p.shape.reduce((a, d) => a * d, 1));
  const largest = Math.max(...sizes);
  const scratch = new Float32Array(Math.min(chunk, largest));
  const total = sizes.reduce((a, b) => a + b, 0) * 4;
  const t0 = performance.now();
  let done = 0,
    sinceSync = 0;
  for (const [index, p] of order.entries()) {
    const t = model.params.get(p.name);
    for (let start = 0; start < sizes[index]; start += chunk) {
      const n = Math.min(chunk, sizes[index] - start);
      const data = w.readRange(p.name, start, n, scratch);
      rt.writeBytes(t.buffer, t.byteOffset + start * 4, data);
      done += n * 4;
      if (++sinceSync >= CHUNKS_PER_SYNC) {
        await rt.sync(); // the staging buffers of the uploads so far are released
        sinceSync = 0;
      }
      opts.onProgress?.({ bytes: done, total, seconds: (performance.now() - t0) / 1000 });
    }
    opts.onTensor?.(p.name, index, order.length);
  }
  await rt.sync();
}

export interface SaveOptions {
  dtype?: 'F32' | 'BF16';
  /** Shard above this many bytes of tensor data (default 5 GB, as transformers). */
  maxShardBytes?: number;
  tokenizer?: Tokenizer | null;
}

export async function saveModel(model: LLaDAModel, dir: string, opts: SaveOptions = {}): Promise<void> {
  const dtype = opts.dtype ?? 'F32';
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create the model folder ${dir}: ${(e as Error).message}`);
  }
  saveConfig(dir, model.config, { torchDtype: dtype === 'BF16' ? 'bfloat16' : 'float32' });
  await saveShardedWeights(
    dir,
    model.params.order.map((p) => {
      const t = model.params.get(p.name);
      return {
        name: p.name,
        shape: p.shape,
        read: async (start: number, count: number) =>
          new Float32Array(await model.rt.readBytes(t.buffer, t.byteOffset + start * 4, count * 4)),
      };
    }),
    { dtype, maxShardBytes: opts.maxShardBytes },
  );
  const tok = opts.tokenizer ?? model.tokenizer;
  if (tok) saveTokenizer(dir, tok);
}

/** A randomly initialised model (LLaDA's init_fn / init_std), reproducible from `seed`. */
export function createModel(config: ModelConfig, opts: { device: Runtime; seed?: number }): LLaDAModel {
  const model = new LLaDAModel(opts.device, config);
  const flat = new Float32Array(model.params.totalFloats);
  model.params.order.forEach((p, i) =>
    flat.set(initValues(config, p, i, opts.seed ?? 0), model.params.offsets.get(p.name)),
  );
  model.params.writeArena('param', flat);
  return model;
}
