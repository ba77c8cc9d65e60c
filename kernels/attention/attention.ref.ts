// CPU reference for bidirectional grouped-query attention (float64): the plain, materialised
// formula O = softmax(scale * Q Kᵀ + mask) V per (batch, head), and its backward
// (dP = dO Vᵀ, dS = P ⊙ (dP - rowsum(dP ⊙ P)), dQ = scale dS K, dK = scale dSᵀ Q, dV = Pᵀ dO).
// Layouts: q [B, T, H, D], k and v [B, S, Hkv, D], keyMask [B, S] (nonzero = attend), out like q.
// Query head h reads kv head floor(h / (H / Hkv)). A query row whose keys are all masked outputs
// zeros and gets zero gradient. Deliberately no streaming or online softmax: this is the oracle.
// No engine imports.

export interface AttnDims {
  B: number;
  T: number;
  S: number;
  H: number;
  Hkv: number;
  D: number;
}

type Arr = ArrayLike<number>;

/** Probabilities P [B, H, T, S] (zeros for masked keys and fully masked rows). */
function probs(d: AttnDims, q: Arr, k: Arr, mask: Arr | null, scale: number): Float64Array {
  const { B, T, S, H, Hkv, D } = d;
  const G = H / Hkv;
  const p = new Float64Array(B * H * T * S);
  const sc = new Float64Array(S);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const kh = Math.floor(h / G);
      for (let t = 0; t < T; t++) {
        let m = -Infinity;
        for (let s = 0; s < S; s++) {
          if (mask && mask[b * S + s] === 0) continue;
          let acc = 0;
          for (let i = 0; i < D; i++) acc += q[((b * T + t) * H + h) * D + i] * k[((b * S + s) * Hkv + kh) * D + i];
          sc[s] = acc * scale;
          m = Math.max(m, sc[s]);
        }
        if (m === -Infinity) continue; // every key masked: zero row
        const o = ((b * H + h) * T + t) * S;
        let z = 0;
        for (let s = 0; s < S; s++) {
          if (mask && mask[b * S + s] === 0) continue;
          z += p[o + s] = Math.exp(sc[s] - m);
        }
        for (let s = 0; s < S; s++) p[o + s] /= z;
      }
    }
  return p;
}

export function attentionRef(d: AttnDims, q: Arr, k: Arr, v: Arr, mask: Arr | null, scale: number): Float64Array {
  const { B, T, S, H, Hkv, D } = d;
  const G = H / Hkv;
  const p = probs(d, q, k, mask, scale);
  const out = new Float64Array(B * T * H * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++) {
        const po = ((b * H + h) * T + t) * S;
        const oo = ((b * T + t) * H + h) * D;
        for (let s = 0; s < S; s++) {
          const w = p[po + s];
          if (w === 0) continue;
          const vo = ((b * S + s) * Hkv + Math.floor(h / G)) * D;
          for (let i = 0; i < D; i++) out[oo + i] += w * v[vo + i];
        }
      }
  return out;
}

/** Gradients [dq, dk, dv] given dO (same layout as the output). */
export function attentionBackwardRef(
  d: AttnDims,
  q: Arr,
  k: Arr,
  v: Arr,
  mask: Arr | null,
  scale: number,
  dout: Arr,
): [Float64Array, Float64Array, Float64Array] {
  const { B, T, S, H, Hkv, D } = d;
  const G = H / Hkv;
  const p = probs(d, q, k, mask, scale);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const dp = new Float64Array(S);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const kh = Math.floor(h / G);
      for (let t = 0; t < T; t++) {
        const po = ((b * H + h) * T + t) * S;
        const qo = ((b * T + t) * H + h) * D;
        let rowDot = 0;
        for (let s = 0; s < S; s++) {
          const ko = ((b * S + s) * Hkv + kh) * D;
          let acc = 0;
          for (let i = 0; i < D; i++) acc += dout[qo + i] * v[ko + i];
          dp[s] = acc;
          rowDot += acc * p[po + s];
        }
        for (let s = 0; s < S; s++) {
          const w = p[po + s];
          if (w === 0) continue;
          const ko = ((b * S + s) * Hkv + kh) * D;
          const ds = w * (dp[s] - rowDot) * scale;
          for (let i = 0; i < D; i++) {
            dq[qo + i] += ds * k[ko + i];
            dk[ko + i] += ds * q[qo + i];
            dv[ko + i] += w * dout[qo + i];
          }
        }
      }
    }
  return [dq, dk, dv];
}
