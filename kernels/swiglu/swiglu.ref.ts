// CPU reference for SwiGLU, out = silu(gate) * up, silu(g) = g * sigmoid(g) (LLaDA's MLP,
// GSAI-ML/LLaDA modeling_llada.py LLaDALlamaBlock: act(ff_proj(x)) * up_proj(x)). Float64, with
// sigmoid from exp(-|g|) so no input overflows. Imports nothing from the engine.

/** sigmoid(g) and 1 - sigmoid(g) = sigmoid(-g), both without cancellation or overflow. */
function sigPair(g: number): [number, number] {
  const e = Math.exp(-Math.abs(g));
  const p = 1 / (1 + e);
  return g >= 0 ? [p, e * p] : [e * p, p];
}

export function swigluRef(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  return Float64Array.from(gate, (g, i) => g * sigPair(g)[0] * up[i]);
}

/** [d_gate, d_up] given d(out): d_gate = dy * up * s * (1 + g (1 - s)), d_up = dy * g * s. */
export function swigluBackwardRef(
  gate: ArrayLike<number>,
  up: ArrayLike<number>,
  dy: ArrayLike<number>,
): [Float64Array, Float64Array] {
  const dg = new Float64Array(gate.length);
  const du = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i];
    const [s, oneMinusS] = sigPair(g);
    dg[i] = dy[i] * up[i] * s * (1 + g * oneMinusS);
    du[i] = dy[i] * g * s;
  }
  return [dg, du];
}
