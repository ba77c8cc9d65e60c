// CPU reference for rotary position embedding in LLaDA's half-rotated form (GSAI-ML/LLaDA
// modeling_llada.py, RotaryEmbedding: inv_freq = 1 / theta^(arange(0, D, 2) / D), rotate_half):
// x (B, T, H, D), angle = pos * inv_freq[i], out1 = x1 cos - x2 sin, out2 = x2 cos + x1 sin.
// All in float64. The backward of a rotation is the rotation by -angle: ropeRef(g, ..., -1).
// Imports nothing from the engine.

/** Position of (b, t): `offset + t`, or positions[t] / positions[b * T + t] for an explicit list. */
export function ropePosition(positions: number | ArrayLike<number>, b: number, t: number, T: number): number {
  if (typeof positions === 'number') return positions + t;
  return positions.length === T ? positions[t] : positions[b * T + t];
}

export function ropeRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  theta: number,
  positions: number | ArrayLike<number>,
  sign = 1,
): Float64Array {
  const [B, T, H, D] = shape;
  const half = D / 2;
  const out = new Float64Array(x.length);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const pos = ropePosition(positions, b, t, T);
      for (let h = 0; h < H; h++) {
        const base = ((b * T + t) * H + h) * D;
        for (let i = 0; i < half; i++) {
          const angle = pos / Math.pow(theta, (2 * i) / D);
          const c = Math.cos(angle);
          const s = sign * Math.sin(angle);
          const x1 = x[base + i];
          const x2 = x[base + half + i];
          out[base + i] = x1 * c - x2 * s;
          out[base + half + i] = x2 * c + x1 * s;
        }
      }
    }
  return out;
}
