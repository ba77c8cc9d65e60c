// Model checkpoints in a folder, in the Hugging Face layout LLaDA publishes: config.json,
// model.safetensors (or shards + model.safetensors.index.json), tokenizer.json /
// tokenizer_config.json. Loading opens the files and hands them to load.ts (checks, then the
// tensors streamed in 64 MiB chunks in the dtype asked for). Saving writes each tensor in its own
// dtype unless told otherwise, reading the parameters back in 64 MiB ranges as they are written:
// host memory stays flat at any model size. Also createModel: a seeded random model.
// Deliberately not here: optimizer state and trainer state (train/state.ts).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime } from '../engine/runtime.ts';
import { UserError } from '../engine/errors.ts';
import type { ModelConfig } from './config.ts';
import { loadConfig, saveConfig } from './config-file.ts';
import { LLaDAModel } from './llada.ts';
import { openCheckpointWeights, saveShardedWeights } from './weights-dir.ts';
import type { Tokenizer } from './tokenizer.ts';
import { loadTokenizer, saveTokenizer } from './tokenizer-file.ts';
import { initValues } from './init.ts';
import type { ParamDType } from './params.ts';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from './float-convert.ts';
import type { SaveDtype, TensorData } from './safetensors-write.ts';
import type { Tensor } from '../engine/tensor.ts';
import { FILE_DTYPE, loadModelFrom, type LoadOptions } from './load.ts';

export {
  checkModelFits,
  checkpointDtype,
  loadModelFrom,
  type CheckpointParts,
  type LoadOptions,
  type LoadProgress,
} from './load.ts';

export const TORCH_DTYPES = { float32: 'f32', bfloat16: 'bf16', float16: 'f16' } as const;
export type TorchDtypeName = keyof typeof TORCH_DTYPES;
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

export async function loadModel(dir: string, opts: LoadOptions): Promise<LLaDAModel> {
  if (!existsSync(dir)) throw new UserError(`checkpoint folder not found: ${dir}`);
  const config = loadConfig(dir);
  const weights = openCheckpointWeights(dir);
  try {
    const tokenizer = () => (existsSync(join(dir, 'tokenizer.json')) ? loadTokenizer(dir) : null);
    return await loadModelFrom({ config, weights, tokenizer, source: dir }, opts);
  } finally {
    weights.close();
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
