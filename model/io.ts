// Model checkpoints in the Hugging Face layout LLaDA publishes: config.json, model.safetensors (or
// shards + model.safetensors.index.json), tokenizer.json / tokenizer_config.json. Loading first
// checks the tensors against config.json and the model's size against the adapter, then streams
// every tensor in chunks of at most 64 MiB through reusable host buffers into its parameter.
// Weight matrices are stored in the dtype asked for (default: the checkpoint's own): a BF16 file
// loaded as bf16 uploads its bytes untouched; any other pairing converts on the host chunk by chunk
// (widening is exact, narrowing rounds to nearest even as PyTorch does). Saving writes each tensor
// in its own dtype unless told otherwise, reading the parameters back in 64 MiB ranges as they are
// written: host memory stays flat at any model size. Also createModel: a seeded random model.
// Deliberately not here: optimizer state and trainer state (train/state.ts).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime } from '../engine/runtime.ts';
import { UserError } from '../engine/errors.ts';
import { loadConfig, saveConfig, type ModelConfig } from './config.ts';
import { LLaDAModel } from './llada.ts';
import { checkWeightsMatch } from './names.ts';
import { openCheckpointWeights, saveShardedWeights, type CheckpointWeights } from './weights-dir.ts';
import { loadTokenizer, saveTokenizer, type Tokenizer } from './tokenizer.ts';
import { initValues } from './init.ts';
import { checkPlan, memoryPlan, planLimits } from './memory-plan.ts';
import type { ParamDType } from './params.ts';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, firstNonFinite } from './float-convert.ts';
import type { SaveDtype, TensorData } from './safetensors-write.ts';
import type { Tensor } from '../engine/tensor.ts';

export const TORCH_DTYPES = { float32: 'f32', bfloat16: 'bf16', float16: 'f16' } as const;
export type TorchDtypeName = keyof typeof TORCH_DTYPES;
const FILE_DTYPE = { f32: 'F32', bf16: 'BF16', f16: 'F16' } as const satisfies Record<ParamDType, SaveDtype>;
const TORCH_NAME = { f32: 'float32', bf16: 'bfloat16', f16: 'float16' } as const satisfies Record<
  ParamDType,
  TorchDtypeName
>;

/** A dtype as users write it: PyTorch's name (bfloat16, float16, float32) or the short one (bf16, f16, f32). */
export function parseDtype(s: string, where: string): ParamDType {
  if (Object.hasOwn(TORCH_DTYPES, s)) return TORCH_DTYPES[s as TorchDtypeName];
  if (s === 'f32' || s === 'bf16' || s === 'f16') return s;
  throw new UserError(`${where}: unknown dtype "${s}"; use bfloat16, float16 or float32`);
}

/** The checkpoint's own dtype: that of its weight matrices when they share one 16-bit type, else f32. */
export function checkpointDtype(w: CheckpointWeights): ParamDType {
  const mats = w.names().filter((n) => w.info(n).shape.length >= 2);
  const kinds = new Set(mats.map((n) => w.info(n).dtype));
  if (kinds.size === 1 && kinds.has('BF16')) return 'bf16';
  if (kinds.size === 1 && kinds.has('F16')) return 'f16';
  return 'f32';
}

export interface LoadProgress {
  /** Bytes of parameters (each in its dtype) uploaded so far, and in all. */
  bytes: number;
  total: number;
  seconds: number;
}

export interface LoadOptions {
  device: Runtime;
  /** Storage of the weight matrices; default the checkpoint's own (checkpointDtype). */
  dtype?: ParamDType;
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
 * Refuse, before anything is allocated (the parameter table included: a config.json with a million
 * layers must not build one), a model whose parameters cannot fit the adapter: the memory plan
 * (model/memory-plan.ts) with no batch, in the dtype the weight matrices will be stored in.
 */
export function checkModelFits(rt: Runtime, cfg: ModelConfig, source: string, dtype: ParamDType = 'f32'): void {
  const lim = planLimits(rt);
  checkPlan(memoryPlan({ config: cfg, dtype }, lim), lim, source, 'use a device with more memory or a smaller model');
}

export async function loadModel(dir: string, opts: LoadOptions): Promise<LLaDAModel> {
  if (!existsSync(dir)) throw new UserError(`checkpoint folder not found: ${dir}`);
  const cfg = loadConfig(dir);
  const w = openCheckpointWeights(dir);
  try {
    const dtype = opts.dtype ?? checkpointDtype(w);
    checkModelFits(opts.device, cfg, dir, dtype);
    const shapes = new Map(w.names().map((n) => [n, w.info(n).shape]));
    checkWeightsMatch(cfg, shapes, dir);
    const model = new LLaDAModel(opts.device, cfg, dtype);
    try {
      await upload(model, w, opts, dir);
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
 * NaN or infinite weights would sample garbage with exit 0: refused at load, naming the tensor (the
 * scan is integer compares over chunks already in host memory, small beside reading them).
 */
function checkFinite(at: number, name: string, start: number, source: string): void {
  if (at < 0) return;
  throw new UserError(
    `${source}: tensor ${name} holds NaN or infinity (element ${start + at}); the checkpoint is corrupt or its ` +
      'training diverged: use an earlier checkpoint',
  );
}

/**
 * Every tensor read, converted and uploaded in chunks of at most chunkBytes through reusable host
 * buffers, waiting for the queue every CHUNKS_PER_SYNC chunks so Dawn's upload staging drains:
 * host memory stays flat whatever the size of the largest tensor. A 16-bit parameter whose file
 * has the same dtype gets the file's bits as they are; any other pairing converts per chunk.
 */
async function upload(model: LLaDAModel, w: CheckpointWeights, opts: LoadOptions, source: string): Promise<void> {
  const rt = opts.device;
  const f32Chunk = Math.max(1, Math.floor((opts.chunkBytes ?? CHUNK_BYTES) / 4));
  // 16-bit chunks start on even elements: GPU copies need 4-byte aligned offsets.
  const halfChunk = Math.max(2, f32Chunk - (f32Chunk % 2));
  const order = model.params.order;
  const sizes = order.map((p) => p.shape.reduce((a, d) => a * d, 1));
  const largest = Math.max(...sizes);
  const scratch = new Float32Array(Math.min(Math.max(f32Chunk, halfChunk), largest));
  let bits = new Uint16Array(0);
  const tensors = order.map((p) => model.params.get(p.name));
  const total = tensors.reduce((a, t) => a + t.size * (t.dtype === 'f32' ? 4 : 2), 0);
  const t0 = performance.now();
  let done = 0,
    sinceSync = 0;
  for (const [index, p] of order.entries()) {
    const t = tensors[index];
    const dtype = t.dtype as ParamDType;
    const half = dtype !== 'f32';
    const raw = half && w.info(p.name).dtype === FILE_DTYPE[dtype];
    const chunk = half ? halfChunk : f32Chunk;
    const elemBytes = half ? 2 : 4;
    for (let start = 0; start < sizes[index]; start += chunk) {
      const n = Math.min(chunk, sizes[index] - start);
      let data: ArrayBufferView;
      if (raw) {
        const b = w.readRawRange(p.name, start, n); // the checkpoint's own 16-bit bits
        checkFinite(firstNonFinite(b, dtype), p.name, start, source);
        data = b;
      } else {
        const f = w.readRange(p.name, start, n, scratch);
        checkFinite(firstNonFinite(f, 'f32'), p.name, start, source);
        if (!half) data = f;
        else {
          if (bits.length < n) bits = new Uint16Array(scratch.length);
          const out = bits.subarray(0, n);
          (dtype === 'bf16' ? f32ToBf16Bits : f32ToF16Bits)(f, out);
          data = out;
        }
      }
      rt.writeBytes(t.buffer, t.byteOffset + start * elemBytes, data);
      done += n * elemBytes;
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
  /** Dtype of every saved weight; default each tensor's own (a bf16 model saves BF16). */
  dtype?: SaveDtype;
  /** Shard above this many bytes of tensor data (default 5 GB, as transformers). */
  maxShardBytes?: number;
  tokenizer?: Tokenizer | null;
}

/** A parameter read back for saving: its bits when the file wants its own 16-bit type, else f32 values. */
/**
 * Elements [start, start + count) of a parameter read back from the GPU for saving as `dtype`: f32
 * values, or the tensor's 16-bit bits when the file keeps its dtype. Ranges of a 16-bit tensor
 * start on even elements (the writer's chunks) and are read in whole 4-byte words.
 */
async function readSaved(t: Tensor, dtype: SaveDtype, start: number, count: number): Promise<TensorData> {
  if (t.dtype === 'f32') return new Float32Array(await t.rt.readBytes(t.buffer, t.byteOffset + start * 4, count * 4));
  const words = await t.rt.readBytes(t.buffer, t.byteOffset + start * 2, Math.ceil(count / 2) * 4);
  const host = new Uint16Array(words, 0, count);
  if (FILE_DTYPE[t.dtype as ParamDType] === dtype) return host;
  const f = new Float32Array(count);
  (t.dtype === 'bf16' ? bf16BitsToF32 : f16BitsToF32)(host, f);
  return f;
}

export async function saveModel(model: LLaDAModel, dir: string, opts: SaveOptions = {}): Promise<void> {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create the model folder ${dir}: ${(e as Error).message}`);
  }
  const P = model.params;
  const dtypes = P.order.map((p) => opts.dtype ?? FILE_DTYPE[P.dtypeOf(p.name)]);
  const matDtype = opts.dtype ?? FILE_DTYPE[model.dtype];
  const torchDtype = TORCH_NAME[matDtype === 'BF16' ? 'bf16' : matDtype === 'F16' ? 'f16' : 'f32'];
  saveConfig(dir, model.config, { torchDtype });
  await saveShardedWeights(
    dir,
    P.order.map((p, i) => {
      const t = P.get(p.name);
      return {
        name: p.name,
        shape: p.shape,
        dtype: dtypes[i],
        read: (start: number, count: number) => readSaved(t, dtypes[i], start, count),
      };
    }),
    { maxShardBytes: opts.maxShardBytes },
  );
  const tok = opts.tokenizer ?? model.tokenizer;
  if (tok) saveTokenizer(dir, tok);
}

/**
 * A randomly initialised model (LLaDA's init_fn / init_std), reproducible from `seed`; with a
 * 16-bit `dtype` the f32 initial values are rounded to it (nearest even).
 */
export function createModel(
  config: ModelConfig,
  opts: { device: Runtime; seed?: number; dtype?: ParamDType },
): LLaDAModel {
  const model = new LLaDAModel(opts.device, config, opts.dtype);
  const P = model.params;
  const flat = new Float32Array(P.totalFloats);
  P.order.forEach((p, i) => {
    const values = initValues(config, p, i, opts.seed ?? 0);
    const t = P.get(p.name);
    if (t.dtype === 'f32') flat.set(values, P.offsets.get(p.name));
    else {
      const bits = new Uint16Array(values.length);
      (t.dtype === 'bf16' ? f32ToBf16Bits : f32ToF16Bits)(values, bits);
      t.write(bits);
    }
  });
  P.writeArena('param', flat);
  return model;
}
