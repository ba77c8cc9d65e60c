// The memory plan: what a model config, a batch and a sequence need on an adapter, computed from the
// config alone (closed forms, nothing allocated, so a config.json with a million layers costs
// nothing), and the one check every command runs before allocating. It compares
// - the largest single buffer (a parameter in its dtype, or an activation) with maxBufferSize,
// - activations that ops bind whole (attention, RoPE and SwiGLU operands: (N, C) and (N, F), N = B*T)
//   with maxStorageBufferBindingSize (matmuls, embeddings, norms and the LM head split over it),
// - and, on a CPU adapter (whose "GPU memory" is host memory), the total with the host's free memory.
// A real GPU does not report its memory through WebGPU: there only the per-buffer limits apply, and
// running out is the engine's out-of-memory error. Activation sizes are estimates (the tensors one
// block saves for its backward, times the layers, or once with recomputation), not measurements.
// Deliberately not here: allocating anything, or the data set's rows (train/data-rows.ts).
import { UserError } from '../engine/errors.ts';
import type { Runtime } from '../engine/runtime.ts';
import { embeddingRows, headDim, kvHeads, mlpHidden, paramCount, type ModelConfig } from './config.ts';
import type { ParamDType } from './params.ts';

export interface PlanRequest {
  config: ModelConfig;
  /** Storage of the weight matrices (vectors are always f32). */
  dtype: ParamDType;
  /** B: rows per forward pass (0: parameters only). */
  rows?: number;
  /** T: tokens per row. */
  seq?: number;
  /** Full fine-tuning: f32 gradients and two AdamW moments per parameter. */
  fullTraining?: boolean;
  /** Parameters that train besides the base (LoRA adapters): f32 weights, gradients and moments. */
  adapterParams?: number;
  /** Backward pass: activations saved per layer (one block's worth with recomputation). */
  backward?: boolean;
  recompute?: boolean;
  /** Sampling with a KV cache: bytes per cached value (4 f32, 2 bf16/f16). */
  kvCacheBytes?: number;
  /** Rows of logits one forward makes (default B*T; sampling: B times the block length). */
  logitsRows?: number;
}

export interface MemoryPlan {
  params: number;
  paramBytes: number;
  /** Gradients and optimizer moments (and LoRA adapter weights). */
  trainingBytes: number;
  activationBytes: number;
  kvCacheBytes: number;
  totalBytes: number;
  /** The largest single buffer, and what it holds. */
  largest: { what: string; bytes: number };
  /** The largest activation an op binds whole. */
  largestBinding: { what: string; bytes: number };
}

/** What the check compares against: the adapter's limits and, on a CPU adapter, free host memory. */
export interface PlanLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  /** Free host memory when the adapter computes in it (a CPU adapter), else null. */
  hostFreeBytes: number | null;
}

const BYTES: Record<ParamDType, number> = { f32: 4, bf16: 2, f16: 2 };

export function memoryPlan(r: PlanRequest, lim: PlanLimits): MemoryPlan {
  const cfg = r.config;
  const C = cfg.d_model,
    F = mlpHidden(cfg),
    KV = kvHeads(cfg) * headDim(cfg),
    E = embeddingRows(cfg),
    L = cfg.n_layers;
  const w = BYTES[r.dtype];
  const params = paramCount(cfg);
  const vectors = (2 * L + 1) * C; // the norms' weights, f32 whatever the dtype
  const paramBytes = (params - vectors) * w + vectors * 4;
  const largestMatrix = Math.max(E * C, F * C, C * C);
  const adapter = r.adapterParams ?? 0;
  const trainingBytes = (r.fullTraining ? 3 * params * 4 : 0) + 4 * 4 * adapter;
  const N = (r.rows ?? 0) * (r.seq ?? 0);
  const batch = `${r.rows ?? 0} x ${r.seq ?? 0}`; // B x T, as messages name them
  // Per token and layer, what a block keeps for its backward: x, the two norms' outputs, q, attention
  // output, its projection and the residual (7C), k and v (2KV), ff_proj, up_proj and SwiGLU (3F).
  const perLayer = 7 * C + 2 * KV + 3 * F;
  const saved = r.backward ? (r.recompute ? L * C + perLayer : L * perLayer) : perLayer;
  // Logits (and their gradient) whole when they fit one binding, else one binding's worth of
  // vocabulary chunk at a time (the fused LM head).
  const logits = Math.min((r.logitsRows ?? N) * E * 4, lim.maxStorageBufferBindingSize) * (r.backward ? 2 : 1);
  // The backward adds one block's gradients at a time.
  const activationBytes = N * (saved + (r.backward ? perLayer : 0)) * 4 + logits;
  const kvCacheBytes = r.kvCacheBytes ? 2 * L * N * KV * r.kvCacheBytes : 0;
  const candidates: [string, number][] = [
    [`the model's largest parameter needs ${gib(largestMatrix * w)} in ${r.dtype}`, largestMatrix * w],
    [
      `an activation of ${batch} tokens x ${Math.max(C, F)} needs ${gib(N * Math.max(C, F) * 4)}`,
      N * Math.max(C, F) * 4,
    ],
  ];
  if (r.kvCacheBytes) {
    const kv = N * KV * r.kvCacheBytes;
    candidates.push([`one layer's KV cache (${batch} tokens x ${KV}) needs ${gib(kv)}`, kv]);
  }
  const largest = candidates.reduce((a, b) => (b[1] > a[1] ? b : a));
  const bindWhole = N * Math.max(C, F) * 4;
  return {
    params,
    paramBytes,
    trainingBytes,
    activationBytes,
    kvCacheBytes,
    totalBytes: paramBytes + trainingBytes + activationBytes + kvCacheBytes,
    largest: { what: largest[0], bytes: largest[1] },
    largestBinding: {
      what: `an activation of ${batch} tokens x ${Math.max(C, F)} needs ${gib(bindWhole)}`,
      bytes: bindWhole,
    },
  };
}

export function planLimits(rt: Runtime): PlanLimits {
  const l = rt.limits;
  return {
    maxBufferSize: l.maxBufferSize,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    hostFreeBytes: rt.facts.software && rt.hostFreeBytes ? rt.hostFreeBytes() : null,
  };
}

/** Bytes as GiB with two decimals (MiB below 0.01 GiB, where two decimals would say 0.00). */
export function gib(b: number): string {
  return b === 0 || b >= 2 ** 30 / 100 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * Refuse, with the numbers and what to change, a plan that cannot fit. `source` says what asked
 * (a checkpoint folder, "train", "sample"); `shrink` names the knobs to turn down.
 */
export function checkPlan(
  plan: MemoryPlan,
  lim: PlanLimits,
  source: string,
  shrink: string,
  /** What else shrinks the total (not one buffer), e.g. activation recomputation. */
  shrinkTotal = '',
): void {
  if (plan.largest.bytes > lim.maxBufferSize) {
    throw new UserError(
      `${source}: ${plan.largest.what} in one buffer; this adapter allows ` +
        `${gib(lim.maxBufferSize)} per buffer (maxBufferSize): ${shrink}`,
    );
  }
  if (plan.largestBinding.bytes > lim.maxStorageBufferBindingSize) {
    throw new UserError(
      `${source}: ${plan.largestBinding.what} in one storage binding; this ` +
        `adapter allows ${gib(lim.maxStorageBufferBindingSize)} (maxStorageBufferBindingSize): ${shrink}`,
    );
  }
  if (lim.hostFreeBytes !== null && plan.totalBytes > lim.hostFreeBytes) {
    const parts = [
      `parameters ${gib(plan.paramBytes)}`,
      plan.trainingBytes ? `gradients and AdamW moments ${gib(plan.trainingBytes)}` : '',
      plan.activationBytes ? `activations ${gib(plan.activationBytes)}` : '',
      plan.kvCacheBytes ? `KV cache ${gib(plan.kvCacheBytes)}` : '',
    ].filter(Boolean);
    throw new UserError(
      `${source}: needs about ${gib(plan.totalBytes)} (${parts.join(', ')}; ${plan.params} parameters); this CPU ` +
        `adapter computes in host memory and ${gib(lim.hostFreeBytes)} of it is free: ${shrink}${shrinkTotal}`,
    );
  }
}

/** The check for a loaded model about to run forwards of `rows` x `seq` tokens (sample, eval). */
export function checkBatchFits(
  model: { rt: Runtime; config: ModelConfig; dtype: ParamDType },
  b: Omit<PlanRequest, 'config' | 'dtype'>,
  source: string,
  shrink: string,
): void {
  const lim = planLimits(model.rt);
  checkPlan(memoryPlan({ config: model.config, dtype: model.dtype, ...b }, lim), lim, source, shrink);
}
