// Fused bidirectional grouped-query attention: out = softmax(scale * Q Kᵀ + keyMask) V with
// q [B, T, H, D], k and v [B, S, Hkv, D], out [B, T, H, D] (the projections' own layout: no
// transposes). Forward streams over keys with the online softmax (FlashAttention, Dao et al. 2022)
// and saves only O and the row log-sum-exp; backward follows FlashAttention-2 (Dao 2023, Alg. 2):
// delta = rowsum(dO * O), then dQ by query rows and dK/dV by key rows summed over the query heads
// of each kv group, recomputing P from Q, K and the log-sum-exp. Deterministic: no atomics.
// Deliberately no causal mask (LLaDA is bidirectional), no dropout, no attention bias.
// keyMask [B, S] (f32, u32 or i32; nonzero = attend): masked keys get probability 0. A query row
// whose keys are all masked (or S = 0) outputs zeros and gets zero gradient.
// Two kernel files, picked per device by kernels/variants.ts (override attention:portable|subgroup):
// attention.wgsl is portable (one invocation per row; what GPUs run); attention-subgroup.wgsl
// splits the head dim over subgroup lanes and amortises loads over 8-16 rows, for CPU adapters
// (llvmpipe), where loads dominate.
// A head dim that is not a multiple of 4 is zero-padded to one (attention_repack) around the vec4
// kernels: only tests and odd models pay that.
// K and V may be bf16 or f16 (a sampling KV cache stored in 16 bits): the forward decodes them
// exactly as it loads (KV_DTYPE) and accumulates in f32, so the result equals the f32 kernel on
// the decoded values. Forward only: 16-bit K/V refuse to record a backward. Where the head dim
// needs padding, they are decoded into a padded f32 copy first (attention_repack_h).
import type { Runtime } from '../../engine/runtime.ts';
import { empty, isHalf, type Tensor } from '../../engine/tensor.ts';
import { isGradEnabled, record } from '../../engine/autograd.ts';
import { EngineError } from '../../engine/errors.ts';
import { Uniforms, checkDtype, checkRank, fail, grid1d, sameShape } from '../util.ts';
import { variantOf } from '../variants.ts';
import type { AttnDims } from './attention.ref.ts';

import PORTABLE from './attention.wgsl.ts';
import SUBGROUP from './attention-subgroup.wgsl.ts';
const WG = 64;
const MAX_D = 128; // MAXD4 in the .wgsl files

export interface AttentionOptions {
  /** [B, S], f32/u32/i32: nonzero = attend, 0 = padding key. */
  keyMask?: Tensor;
  /** Score scale; default 1/sqrt(D). */
  scale?: number;
}

/** The fixed subgroup size the subgroup kernels are specialised for (the variant rule guarantees one). */
const subgroupSize = (rt: Runtime) => rt.facts.subgroupSize;

/**
 * Split of the head dim over the lanes of a subgroup (attention-subgroup.wgsl): LPR lanes per row
 * (largest power of two dividing D4, at most the subgroup size) and NC vec4 chunks per lane; null
 * when the registers would not fit (then the portable kernels run).
 */
function subgroupSplit(sg: number, d4: number): { LPR: number; NC: number } | null {
  let LPR = 1;
  while (LPR * 2 <= sg && d4 % (LPR * 2) === 0) LPR *= 2;
  const NC = d4 / LPR;
  return NC <= 4 && Math.max(LPR, 8) * NC <= 32 ? { LPR, NC } : null;
}

/**
 * Rows per lane group R (a multiple of LPR): 16 amortises each load over more rows, but Mesa only
 * unrolls the row loops while R * NC <= 16 (measured), and short problems (the default model's
 * T = 12) waste less with 8. Two values at most: each is a pipeline to compile.
 */
function rowsPerGroup(sg: number, split: { LPR: number; NC: number }, rows: number): number {
  const R = split.NC === 1 && rows > (sg / split.LPR) * 8 ? 16 : 8;
  return Math.max(R, split.LPR);
}

interface Geometry extends AttnDims {
  /** Head-dim split for the subgroup kernels, or null for the portable kernels. */
  split: { LPR: number; NC: number } | null;
  /** vec4 chunks per row the kernels see (the head dim zero-padded to 4 * D4 when needed). */
  D4: number;
  scale: number;
  mask: Tensor | null;
  /** K/V storage: 0 f32, 1 bf16, 2 f16 (the KV_DTYPE override). */
  kv: number;
}

/** The Dims uniform of attention-params.wgsl; `aux` is R for the subgroup kernels, D4 for the delta. */
function dimsUniform(g: Geometry, n = 0, aux = 0): Uint8Array {
  const mask = g.mask ? (g.mask.dtype === 'f32' ? 2 : 1) : 0;
  const u = new Uniforms()
    .u32(g.B)
    .u32(g.T)
    .u32(g.S)
    .u32(g.H)
    .u32(g.Hkv)
    .u32(g.H / g.Hkv)
    .f32(g.scale);
  return u.u32(n).u32(mask).u32(aux).bytes();
}

/** (n, din) rows -> (n, dout), zero-filled; pads or unpads the head dim. */
function repack(x: Tensor, din: number, dout: number, shape: number[]): Tensor {
  const rt = x.rt;
  const out = empty(rt, shape, 'f32', 'attention_repack');
  const n = x.size / din;
  const u = new Uniforms().u32(n).u32(din).u32(dout).bytes();
  rt.run(rt.kernel(PORTABLE, 'attention_repack', { WG }), {
    uniforms: u,
    bindings: [x, out],
    grid: grid1d(Math.ceil((n * dout) / WG)),
  });
  return out;
}

/** 16-bit (n, din) rows -> f32 (n, dout), decoded exactly and zero-filled. */
function repackHalf(x: Tensor, din: number, dout: number, shape: number[]): Tensor {
  const rt = x.rt;
  const out = empty(rt, shape, 'f32', 'attention_repack_h');
  const n = x.size / din;
  const u = new Uniforms().u32(n).u32(din).u32(dout).bytes();
  rt.run(rt.kernel(PORTABLE, 'attention_repack_h', { WG, KV_DTYPE: x.dtype === 'bf16' ? 1 : 2 }), {
    uniforms: u,
    bindings: [x, out],
    grid: grid1d(Math.ceil((n * dout) / WG)),
  });
  return out;
}

/** Launch one of fwd / bwd_dq / bwd_dkdv, choosing the kernel file and tiling for this adapter. */
function launch(rt: Runtime, g: Geometry, entry: 'fwd' | 'bwd_dq' | 'bwd_dkdv', bindings: Tensor[]): void {
  const rows = entry === 'bwd_dkdv' ? g.S : (g.H / g.Hkv) * g.T;
  // Binding 4 is the key mask; without one, any read-only tensor fills the slot (never read).
  const all = [bindings[0], bindings[1], bindings[2], g.mask ?? bindings[0], ...bindings.slice(3)];
  // The forward also binds K/V at their 16-bit slots (7, 8); q fills the slots of the storage type
  // not in use (never read, and at least one vec4 long).
  const kv: Record<string, number> = g.kv && entry === 'fwd' ? { KV_DTYPE: g.kv } : {};
  if (entry === 'fwd') {
    const [q, k, v] = all;
    if (g.kv) all[1] = all[2] = q;
    all.push(k, v);
  }
  if (g.split) {
    const sg = subgroupSize(rt);
    const t = { ...g.split, R: rowsPerGroup(sg, g.split, rows) };
    const k = rt.kernel(SUBGROUP, `attention_${entry}`, { SG: sg, ...t, ...kv });
    const perGroup = (sg / t.LPR) * t.R;
    rt.run(k, { uniforms: dimsUniform(g, 0, t.R), bindings: all, grid: [Math.ceil(rows / perGroup), g.Hkv, g.B] });
  } else {
    const k = rt.kernel(PORTABLE, `attention_${entry}`, { D4: g.D4, WG, ...kv });
    rt.run(k, { uniforms: dimsUniform(g), bindings: all, grid: [Math.ceil(rows / WG), g.Hkv, g.B] });
  }
}

function checkArgs(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Geometry {
  const op = 'attention';
  checkDtype(op, q, 'f32');
  k.assertLive(op);
  v.assertLive(op);
  if (k.dtype !== v.dtype || (k.dtype !== 'f32' && !isHalf(k.dtype)))
    fail(op, `k and v must both be f32, bf16 or f16, got ${k.dtype} and ${v.dtype}`, k, v);
  const kv = k.dtype === 'bf16' ? 1 : k.dtype === 'f16' ? 2 : 0;
  if (kv && isGradEnabled() && (q.requiresGrad || k.requiresGrad || v.requiresGrad))
    fail(
      op,
      `${k.dtype} k/v are for the no-grad forward (sampling): this call would record a backward; use f32 k/v or run it under noGrad`,
      q,
      k,
    );
  checkRank(op, q, 4, 'q [B, T, H, D]');
  checkRank(op, k, 4, 'k [B, S, Hkv, D]');
  checkRank(op, v, 4, 'v [B, S, Hkv, D]');
  const [B, T, H, D] = q.shape;
  const [Bk, S, Hkv, Dk] = k.shape;
  if (Bk !== B || Dk !== D) fail(op, 'k must be [B, S, Hkv, D] with the batch and head dim of q [B, T, H, D]', q, k);
  if (!sameShape(v.shape, k.shape)) fail(op, 'v must have the shape of k', k, v);
  if (H < 1 || Hkv < 1 || H % Hkv !== 0) fail(op, `kv heads (${Hkv}) must divide query heads (${H})`, q, k);
  if (D < 1 || D > MAX_D) fail(op, `head dim must be 1..${MAX_D}, got ${D}`, q);
  const mask = opts.keyMask ?? null;
  if (mask) {
    mask.assertLive(op);
    if (mask.dtype !== 'f32' && mask.dtype !== 'u32' && mask.dtype !== 'i32')
      fail(op, `keyMask must be f32, u32 or i32, got ${mask.dtype}`, mask);
    if (!sameShape(mask.shape, [B, S])) fail(op, `keyMask must be [B, S] = [${B}, ${S}]`, mask, k);
  }
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  if (!Number.isFinite(scale)) throw new EngineError(`attention: scale must be finite, got ${scale}`);
  const grid = Math.max(B, Hkv);
  if (grid > q.rt.limits.maxComputeWorkgroupsPerDimension)
    fail(op, `batch and kv heads must each be <= ${q.rt.limits.maxComputeWorkgroupsPerDimension}`, q, k);
  let D4 = Math.ceil(D / 4);
  let split = null;
  if (variantOf(q.rt, 'attention') === 'subgroup') {
    // The subgroup kernels split D4 over a power-of-two number of lanes: pad odd chunk counts up
    // (a few wasted FMAs beat one lane per row).
    const d4 = D4 & (D4 - 1) ? (D4 < 8 ? 2 ** Math.ceil(Math.log2(D4)) : Math.ceil(D4 / 8) * 8) : D4;
    split = subgroupSplit(subgroupSize(q.rt), d4);
    if (split) D4 = d4;
  }
  return { split, B, T, S, H, Hkv, D, D4, scale, mask, kv };
}

export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const g = checkArgs(q, k, v, opts);
  const rt = q.rt;
  const { B, T, S, H, Hkv, D, D4 } = g;
  const Dp = D4 * 4;
  const padded = Dp !== D;
  const pad = (x: Tensor) =>
    !padded ? x : (isHalf(x.dtype) ? repackHalf : repack)(x, D, Dp, [...x.shape.slice(0, 3), Dp]);
  const qp = pad(q),
    kp = pad(k),
    vp = pad(v);
  // Padded 16-bit K/V were decoded into f32 copies: the f32 kernels read those.
  if (padded) g.kv = 0;
  const op = empty(rt, [B, T, H, Dp], 'f32', 'attention');
  const lse = empty(rt, [B, H, T], 'f32', 'attention_lse');
  launch(rt, g, 'fwd', [qp, kp, vp, op, lse]);
  const out = padded ? repack(op, Dp, D, [B, T, H, D]) : op;
  const res = record('attention', out, [q, k, v], (gout) => {
    checkDtype('attention backward', gout, 'f32');
    const gp = pad(gout);
    // (lse, delta) per row: FlashAttention-2's D_i, packed with the lse the backward needs.
    const stats = empty(rt, [B, H, T, 2], 'f32', 'attention_stats');
    const n = B * T * H;
    rt.run(rt.kernel(PORTABLE, 'attention_bwd_delta', { WG }), {
      uniforms: dimsUniform(g, n, D4),
      bindings: [gp, op, lse, stats],
      grid: grid1d(Math.ceil(n / WG)),
    });
    let dq: Tensor | null = null,
      dk: Tensor | null = null,
      dv: Tensor | null = null;
    if (q.requiresGrad) {
      dq = empty(rt, [B, T, H, Dp], 'f32', 'attention_dq');
      launch(rt, g, 'bwd_dq', [qp, kp, vp, stats, gp, dq]);
    }
    if (k.requiresGrad || v.requiresGrad) {
      dk = empty(rt, [B, S, Hkv, Dp], 'f32', 'attention_dk');
      dv = empty(rt, [B, S, Hkv, Dp], 'f32', 'attention_dv');
      launch(rt, g, 'bwd_dkdv', [qp, kp, vp, stats, gp, dk, dv]);
    }
    stats.dispose();
    if (padded) {
      gp.dispose();
      const unpad = (x: Tensor | null, shape: readonly number[]) => {
        if (!x) return null;
        const y = repack(x, Dp, D, [...shape]);
        x.dispose();
        return y;
      };
      dq = unpad(dq, q.shape);
      dk = unpad(dk, k.shape);
      dv = unpad(dv, v.shape);
    }
    return [dq, dk, dv];
  });
  if (!res.node) {
    // Nothing will call the backward: free what it would have needed now.
    lse.dispose();
    if (padded) for (const t of [qp, kp, vp, op]) t.dispose();
  }
  return res;
}
