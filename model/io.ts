// Model checkpoints in the Hugging Face layout LLaDA publishes: config.json, model.safetensors (or
// shards + model.safetensors.index.json), tokenizer.json / tokenizer_config.json. Loading streams
// tensor by tensor (peak host memory ~ the largest tensor) and uploads each into its parameter.
// Weight matrices are stored in the dtype asked for (default: the checkpoint's own): a BF16 file
// loaded as bf16 uploads its bytes untouched; any other pairing converts on the host (widening is
// exact, narrowing rounds to nearest even as PyTorch does). Saving writes each tensor in its own
// dtype unless told otherwise, reading it back from the GPU only when its turn comes. Also
// createModel: a seeded random from-scratch model.
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
import type { ParamDType } from './params.ts';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from './float-convert.ts';
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

export interface LoadOptions {
  device: Runtime;
  /** Storage of the weight matrices; default the checkpoint's own (checkpointDtype). */
  dtype?: ParamDType;
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
    const model = new LLaDAModel(opts.device, cfg, opts.dtype ?? checkpointDtype(w));
    try {
      let scratch = new Float32Array(0);
      let pending = 0;
      for (const [index, p] of model.params.order.entries()) {
        const t = model.params.get(p.name);
        const n = t.size;
        const fileDtype = w.info(p.name).dtype;
        if (fileDtype === FILE_DTYPE[t.dtype as ParamDType] && t.dtype !== 'f32') {
          const raw = w.readRaw(p.name); // the checkpoint's own 16-bit bits, uploaded as they are
          t.write(new Uint16Array(raw.buffer, raw.byteOffset, n));
        } else {
          if (scratch.length < n) scratch = new Float32Array(n);
          const data = w.readTensor(p.name, scratch.subarray(0, n));
          if (t.dtype === 'f32') t.write(data);
          else {
            const bits = new Uint16Array(n);
            (t.dtype === 'bf16' ? f32ToBf16Bits : f32ToF16Bits)(data, bits);
            t.write(bits);
          }
        }
        pending += t.byteLength;
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
  /** Dtype of every saved weight; default each tensor's own (a bf16 model saves BF16). */
  dtype?: SaveDtype;
  /** Shard above this many bytes of tensor data (default 5 GB, as transformers). */
  maxShardBytes?: number;
  tokenizer?: Tokenizer | null;
}

/** A parameter read back for saving: its bits when the file wants its own 16-bit type, else f32 values. */
async function savedData(t: Tensor, dtype: SaveDtype): Promise<TensorData> {
  const host = await t.read();
  if (t.dtype === 'f32') return host as Float32Array;
  if (FILE_DTYPE[t.dtype as ParamDType] === dtype) return host as Uint16Array;
  const f = new Float32Array(t.size);
  (t.dtype === 'bf16' ? bf16BitsToF32 : f16BitsToF32)(host as Uint16Array, f);
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
    P.order.map((p, i) => ({
      name: p.name,
      shape: p.shape,
      dtype: dtypes[i],
      data: () => savedData(P.get(p.name), dtypes[i]),
    })),
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
