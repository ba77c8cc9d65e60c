// Loading a checkpoint's weights into a model, wherever its files come from (a folder in Node:
// io.ts loadModel; files fetched over HTTP in a browser tab: remote-checkpoint.ts). It first checks
// the tensors against the config and the model's size against the adapter, then streams every
// tensor in chunks of at most 64 MiB through reusable host buffers into its parameter. Weight
// matrices are stored in the dtype asked for (default: the checkpoint's own): a BF16 file loaded
// as bf16 uploads its bytes untouched; any other pairing converts on the host chunk by chunk
// (widening is exact, narrowing rounds to nearest even as PyTorch does).
// Deliberately not here: file or network access, saving (io.ts).
import type { Runtime } from '../engine/runtime.ts';
import { UserError } from '../engine/errors.ts';
import type { ModelConfig } from './config.ts';
import { LLaDAModel } from './llada.ts';
import { checkWeightsMatch } from './names.ts';
import type { CheckpointWeights } from './checkpoint-weights.ts';
import type { Tokenizer } from './tokenizer.ts';
import { checkPlan, memoryPlan, planLimits } from './memory-plan.ts';
import type { ParamDType } from './params.ts';
import { f32ToBf16Bits, f32ToF16Bits, firstNonFinite } from './float-convert.ts';
import type { SaveDtype } from './safetensors-write.ts';

export const FILE_DTYPE = { f32: 'F32', bf16: 'BF16', f16: 'F16' } as const satisfies Record<ParamDType, SaveDtype>;

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

/** A checkpoint's parts, opened: its config, its weights and how to build its tokenizer (if it has one). */
export interface CheckpointParts {
  config: ModelConfig;
  weights: CheckpointWeights;
  /** Called once the weights are uploaded. */
  tokenizer(): Tokenizer | null;
  /** Names the checkpoint in errors (a folder, a URL). */
  source: string;
}

/** A model with the checkpoint's weights uploaded. The caller closes `parts.weights`. */
export async function loadModelFrom(parts: CheckpointParts, opts: LoadOptions): Promise<LLaDAModel> {
  const { config: cfg, weights: w, source } = parts;
  const dtype = opts.dtype ?? checkpointDtype(w);
  checkModelFits(opts.device, cfg, source, dtype);
  const shapes = new Map(w.names().map((n) => [n, w.info(n).shape]));
  checkWeightsMatch(cfg, shapes, source);
  const model = new LLaDAModel(opts.device, cfg, dtype);
  try {
    await upload(model, w, opts, source);
    model.tokenizer = parts.tokenizer();
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
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
