// The GPU side of a denoising step: a no-grad forward (conditional and, with CFG, unconditional
// rows in one batch), then the pick kernel, and a readback of (token, confidence) per position:
// 8 bytes per position, never the logits. Only the positions of the block being denoised go through
// the LM head and the pick. With a vocabulary whose logits or head exceed one binding the LM head is
// fused with the pick over vocabulary chunks (pickTokensFused).
// With a Fast-dLLM block cache (Wu et al. 2025, "Fast-dLLM", sec. 3.1): the first step of a block
// runs the whole sequence and stores every layer's keys/values; later steps of the block run only
// the block and the suffix (prefix cache) or only the block (dual cache), attending over the cache.
// The cache holds keys/values in f32 or 16 bits (cacheDtype; 'auto' = the weights' dtype when they
// are bf16/f16, else f32): 16 bits halve its memory, and attention reads the rounded values.
// Deliberately not here: the schedule of what to commit (generate.ts).
import { noGradAsync } from '../engine/autograd.ts';
import { empty, type Tensor } from '../engine/tensor.ts';
import { linear } from '../kernels/matmul/matmul.ts';
import { pickTokens, pickTokensFused } from '../kernels/sample-pick/sample-pick.ts';
import type { CacheDType, KVCache, LLaDAModel } from '../model/llada.ts';
import { embeddingRows, headDim, kvHeads, mlpHidden, type ModelConfig } from '../model/config.ts';
import type { Denoiser } from './generate.ts';

export type CacheMode = 'none' | 'prefix' | 'dual';
export type CacheDTypeChoice = CacheDType | 'auto';

/** The cache dtype `choice` means for `model`: 'auto' is the weights' dtype when 16-bit, else f32. */
export function resolveCacheDtype(model: LLaDAModel, choice: CacheDTypeChoice = 'auto'): CacheDType {
  if (choice !== 'auto') return choice;
  return model.dtype === 'bf16' || model.dtype === 'f16' ? model.dtype : 'f32';
}

export interface ModelDenoiser extends Denoiser {
  /** Forward passes run. */
  forwards: number;
  /** Token positions run through the model (sum over forwards of batch rows x tokens). */
  tokensEvaluated: number;
  /** Rows through the LM head and the pick (only the block's positions of each batch row). */
  headRows: number;
  /** Query-key pairs of attention per layer, summed (for FLOP accounting). */
  attnPairs: number;
  /** Storage of the KV cache (when there is one). */
  readonly cacheDtype: CacheDType;
  /** Bytes of the largest KV cache held so far (0 without a cache). */
  cacheBytes: number;
  dispose(): void;
}

export function modelDenoiser(
  model: LLaDAModel,
  opts: { cache?: CacheMode; cacheDtype?: CacheDTypeChoice } = {},
): ModelDenoiser {
  const rt = model.rt;
  const mode = opts.cache ?? 'none';
  const cacheDtype = resolveCacheDtype(model, opts.cacheDtype);
  let cache: KVCache | null = null;
  let cacheBlock = -1;
  const den: ModelDenoiser = {
    forwards: 0,
    tokensEvaluated: 0,
    headRows: 0,
    attnPairs: 0,
    cacheDtype,
    cacheBytes: 0,
    dispose() {
      cache?.dispose();
      cache = null;
    },
    async predict(a) {
      const cfg = a.uncond !== undefined && a.cfgScale > 0;
      const B2 = cfg ? 2 * a.B : a.B;
      const L = a.L;
      const full = cfg ? new Int32Array(B2 * L) : a.x;
      if (cfg) {
        full.set(a.x);
        full.set(a.uncond!, a.B * L);
      }
      let keyMask = a.keyMask;
      if (keyMask && cfg) {
        const km = new Float32Array(B2 * L);
        km.set(keyMask);
        km.set(keyMask, a.B * L);
        keyMask = km;
      }
      // Which positions run through the model this step.
      let start = 0,
        Tq = L;
      if (mode !== 'none') {
        if (!cache || cache.B !== B2 || cache.L !== L || cacheBlock !== a.from || a.blockStep === 0) {
          if (!cache || cache.B !== B2 || cache.L !== L) {
            cache?.dispose();
            cache = model.newCache(B2, L, cacheDtype);
            den.cacheBytes = Math.max(den.cacheBytes, cache.bytes);
          }
          cacheBlock = a.from;
        } else {
          start = a.from;
          Tq = (mode === 'prefix' ? L : a.to) - a.from;
        }
      }
      let ids = full;
      if (Tq !== L) {
        ids = new Int32Array(B2 * Tq);
        for (let b = 0; b < B2; b++) ids.set(full.subarray(b * L + start, b * L + start + Tq), b * Tq);
      }
      // Only the block's positions go through the LM head and the pick: the head's work and the
      // logits are sized by the block, not the sequence (gen 1024 in blocks of 32 reads 32 rows).
      const from = Math.max(a.from, start),
        to = Math.min(a.to, start + Tq);
      const W = to - from;
      den.forwards++;
      den.tokensEvaluated += B2 * Tq;
      den.headRows += B2 * W;
      den.attnPairs += B2 * Tq * L;
      const packed = await noGradAsync(() =>
        rt.scope(async () => {
          const pickOpts = {
            cfgScale: cfg ? a.cfgScale : 0,
            temperature: a.temperature,
            noise: {
              block: a.block,
              rowsPerSeq: W,
              start: from,
              seqs: a.seeds.map((seed, b) => ({ seed, origin: a.origins[b], step: a.blockStep })),
            },
            suppress: a.suppressIds,
          };
          const { x, head } = cache
            ? model.hiddenCached(ids, B2, Tq, start, cache, keyMask)
            : model.hidden({ ids, B: B2, T: L, keyMask });
          const xb = rowRanges(x, B2, Tq, from - start, W);
          // A vocabulary whose logits or head exceed one binding: the head runs fused with the pick, in chunks.
          const pick = model.logitsFit(B2 * W)
            ? pickTokens(linear(xb, head), pickOpts)
            : pickTokensFused(xb, head, pickOpts);
          return (await pick.read()) as Float32Array;
        }),
      );
      const n = a.B * L;
      const tokens = new Int32Array(n),
        conf = new Float32Array(n).fill(-1);
      for (let b = 0; b < a.B; b++) {
        for (let j = 0; j < W; j++) {
          const src = b * W + j,
            dst = b * L + from + j;
          tokens[dst] = packed[2 * src];
          conf[dst] = packed[2 * src + 1];
        }
      }
      return { tokens, conf };
    },
  };
  return den;
}

/** Rows [off, off + W) of each of the B blocks of T rows of x (B*T, C), as one (B*W, C) tensor. */
function rowRanges(x: Tensor, B: number, T: number, off: number, W: number): Tensor {
  if (W === T) return x;
  const C = x.shape[1];
  const out = empty(x.rt, [B * W, C], 'f32', 'block_rows');
  const enc = x.rt.commandEncoder();
  for (let b = 0; b < B; b++)
    enc.copyBufferToBuffer(
      x.buffer,
      x.byteOffset + (b * T + off) * C * 4,
      out.buffer,
      out.byteOffset + b * W * C * 4,
      W * C * 4,
    );
  return out;
}

/**
 * Model FLOPs of what a denoiser ran: 2 per weight per token through the blocks' linears, 2 per head
 * weight per row through the LM head (the block's rows only), and attention's 4 * C per query-key
 * pair per layer (QK^T and PV). Norms, RoPE and the pick are not counted.
 */
export function denoiserFlops(
  cfg: ModelConfig,
  den: Pick<ModelDenoiser, 'tokensEvaluated' | 'headRows' | 'attnPairs'>,
): number {
  const C = cfg.d_model,
    L = cfg.n_layers;
  const kv = kvHeads(cfg) * headDim(cfg);
  const block = 2 * L * (2 * C * C + 2 * kv * C + 3 * mlpHidden(cfg) * C);
  return block * den.tokensEvaluated + 2 * embeddingRows(cfg) * C * den.headRows + 4 * C * L * den.attnPairs;
}
