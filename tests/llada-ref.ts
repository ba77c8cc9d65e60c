// A float64 CPU forward of LLaDA, written for the tests from the model's definition (modeling_llada.py,
// LLaDALlamaBlock): the GPU model's logits and gradients are checked against it. Plain loops, no
// engine imports; slow, and only for tiny models.
import type { ModelConfig } from '../model/config.ts';
import { embeddingRows, headDim, kvHeads, mlpHidden } from '../model/config.ts';

export type Weights = Map<string, ArrayLike<number>>;

function rmsnorm(x: Float64Array, w: ArrayLike<number>, N: number, C: number, eps: number): Float64Array {
  const y = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[n * C + c] ** 2;
    const r = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) y[n * C + c] = x[n * C + c] * r * w[c];
  }
  return y;
}

/** y[N, O] = x[N, I] @ W[O, I]^T */
function linear(x: Float64Array, w: ArrayLike<number>, N: number, I: number, O: number): Float64Array {
  const y = new Float64Array(N * O);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) {
      let s = 0;
      for (let i = 0; i < I; i++) s += x[n * I + i] * w[o * I + i];
      y[n * O + o] = s;
    }
  return y;
}

function rope(x: Float64Array, B: number, T: number, H: number, D: number, theta: number): void {
  const half = D / 2;
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let h = 0; h < H; h++)
        for (let i = 0; i < half; i++) {
          const ang = t * Math.pow(theta, (-2 * i) / D);
          const k = ((b * T + t) * H + h) * D;
          const x1 = x[k + i],
            x2 = x[k + i + half];
          x[k + i] = x1 * Math.cos(ang) - x2 * Math.sin(ang);
          x[k + i + half] = x2 * Math.cos(ang) + x1 * Math.sin(ang);
        }
}

export function lladaForwardRef(
  cfg: ModelConfig,
  w: Weights,
  ids: ArrayLike<number>,
  B: number,
  T: number,
  keyMask?: ArrayLike<number>,
  /** Applied to each layer's post-RoPE keys and to its values (e.g. rounding them as a 16-bit KV cache stores them). */
  kvHook?: (x: Float64Array) => void,
): Float64Array {
  const C = cfg.d_model,
    H = cfg.n_heads,
    Hkv = kvHeads(cfg),
    D = headDim(cfg),
    F = mlpHidden(cfg),
    V = embeddingRows(cfg);
  const N = B * T;
  const P = (n: string) => w.get(`model.transformer.${n}`)!;
  const wte = P('wte.weight');
  let x = new Float64Array(N * C);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) x[n * C + c] = wte[ids[n] * C + c];
  for (let l = 0; l < cfg.n_layers; l++) {
    const W = (n: string) => P(`blocks.${l}.${n}.weight`);
    const h = rmsnorm(x, W('attn_norm'), N, C, cfg.rms_norm_eps);
    const q = linear(h, W('q_proj'), N, C, H * D);
    const k = linear(h, W('k_proj'), N, C, Hkv * D);
    const v = linear(h, W('v_proj'), N, C, Hkv * D);
    rope(q, B, T, H, D, cfg.rope_theta);
    rope(k, B, T, Hkv, D, cfg.rope_theta);
    kvHook?.(k);
    kvHook?.(v);
    const a = new Float64Array(N * C);
    const scale = 1 / Math.sqrt(D);
    for (let b = 0; b < B; b++)
      for (let hh = 0; hh < H; hh++) {
        const kh = Math.floor(hh / (H / Hkv));
        for (let t = 0; t < T; t++) {
          const s = new Float64Array(T).fill(-Infinity);
          let m = -Infinity;
          for (let u = 0; u < T; u++) {
            if (keyMask && !keyMask[b * T + u]) continue;
            let d = 0;
            for (let i = 0; i < D; i++) d += q[((b * T + t) * H + hh) * D + i] * k[((b * T + u) * Hkv + kh) * D + i];
            s[u] = d * scale;
            m = Math.max(m, s[u]);
          }
          let z = 0;
          for (let u = 0; u < T; u++) z += s[u] === -Infinity ? 0 : Math.exp(s[u] - m);
          for (let u = 0; u < T; u++) {
            if (s[u] === -Infinity) continue;
            const p = Math.exp(s[u] - m) / z;
            for (let i = 0; i < D; i++) a[((b * T + t) * H + hh) * D + i] += p * v[((b * T + u) * Hkv + kh) * D + i];
          }
        }
      }
    const o = linear(a, W('attn_out'), N, C, C);
    x = x.map((xv, i) => xv + o[i]);
    const h2 = rmsnorm(x, W('ff_norm'), N, C, cfg.rms_norm_eps);
    const g = linear(h2, W('ff_proj'), N, C, F);
    const up = linear(h2, W('up_proj'), N, C, F);
    const act = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * up[i]);
    const f = linear(act, W('ff_out'), N, F, C);
    x = x.map((xv, i) => xv + f[i]);
  }
  const xf = rmsnorm(x, P('ln_f.weight'), N, C, cfg.rms_norm_eps);
  const logits = linear(xf, cfg.weight_tying ? wte : P('ff_out.weight'), N, C, V);
  if (cfg.scale_logits) for (let i = 0; i < logits.length; i++) logits[i] /= Math.sqrt(C);
  return logits;
}

/** Masked-token loss sum_i w_i * CE_i in float64 (the MDLM objective with weights folded). */
export function weightedXentRef(
  logits: Float64Array,
  V: number,
  targets: ArrayLike<number>,
  weights: ArrayLike<number>,
): number {
  let loss = 0;
  for (let n = 0; n < targets.length; n++) {
    if (!weights[n]) continue;
    let m = -Infinity;
    for (let v = 0; v < V; v++) m = Math.max(m, logits[n * V + v]);
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(logits[n * V + v] - m);
    loss += weights[n] * (Math.log(z) + m - logits[n * V + targets[n]]);
  }
  return loss;
}
