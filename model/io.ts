// Model checkpoints in the Hugging Face layout LLaDA publishes: config.json, model.safetensors (or
// shards + model.safetensors.index.json), tokenizer.json / tokenizer_config.json. Loading streams
// tensor by tensor through one reusable host buffer (peak host memory ~ the largest tensor), and
// uploads each into its arena view. Saving reads each parameter back from the GPU only when its
// turn to be written comes. Also createModel: a seeded random from-scratch model.
// Deliberately not here: optimizer state and trainer state (train/state.ts).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime } from '../engine/runtime.ts';
import { UserError } from '../engine/errors.ts';
import { loadConfig, saveConfig, type ModelConfig } from './config.ts';
import { LLaDAModel } from './llada.ts';
import { checkWeightsMatch } from './names.ts';
import { openCheckpointWeights, saveShardedWeights } from './weights-dir.ts';
import { loadTokenizer, saveTokenizer, type Tokenizer } from './tokenizer.ts';
import { initValues } from './init.ts';

export interface LoadOptions {
  device: Runtime;
  /** Called after each tensor is uploaded (progress display; memory measurements in tests). */
  onTensor?(name: string, index: number, count: number): void;
}

/** Bytes uploaded between syncs while loading: bounds the staging memory in flight. */
const SYNC_EVERY_BYTES = 64 << 20;

export async function loadModel(dir: string, opts: LoadOptions): Promise<LLaDAModel> {
  if (!existsSync(dir)) throw new UserError(`checkpoint folder not found: ${dir}`);
  const cfg = loadConfig(dir);
  const w = openCheckpointWeights(dir);
  try {
    const shapes = new Map(w.names().map((n) => [n, w.info(n).shape]));
    checkWeightsMatch(cfg, shapes, dir);
    const model = new LLaDAModel(opts.device, cfg);
    try {
      const largest = Math.max(...model.params.order.map((p) => p.shape.reduce((a, d) => a * d, 1)));
      const scratch = new Float32Array(largest);
      let pending = 0;
      for (const [index, p] of model.params.order.entries()) {
        const n = p.shape.reduce((a, d) => a * d, 1);
        const data = w.readTensor(p.name, scratch.subarray(0, n));
        model.params.get(p.name).write(data);
        pending += n * 4;
        opts.onTensor?.(p.name, index, model.params.order.length);
        if (pending >= SYNC_EVERY_BYTES) {
          await opts.device.sync(); // staging buffers of the uploads so far are released
          pending = 0;
        }
      }
      await opts.device.sync();
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
    model.params.order.map((p) => ({
      name: p.name,
      shape: p.shape,
      data: async () => (await model.params.get(p.name).read()) as Float32Array,
    })),
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
