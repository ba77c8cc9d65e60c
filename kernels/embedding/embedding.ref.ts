// CPU reference for the embedding lookup (LLaDA's wte, GSAI-ML/LLaDA modeling_llada.py) and its
// backward, float64. Ids are clamped to [0, V) exactly as the kernel does, so out-of-range ids read
// (and receive the gradient of) the nearest valid row. Imports nothing from the engine.

export const clampId = (id: number, v: number) => Math.min(Math.max(id, 0), v - 1);

export function embeddingRef(ids: ArrayLike<number>, table: ArrayLike<number>, v: number, c: number): Float64Array {
  const out = new Float64Array(ids.length * c);
  for (let t = 0; t < ids.length; t++) {
    const row = clampId(ids[t], v);
    for (let j = 0; j < c; j++) out[t * c + j] = table[row * c + j];
  }
  return out;
}

/** d_table (V, C): the sum of dy over the tokens that read each row; zero for unused rows. */
export function embeddingBackwardRef(
  ids: ArrayLike<number>,
  v: number,
  c: number,
  dy: ArrayLike<number>,
): Float64Array {
  const dt = new Float64Array(v * c);
  for (let t = 0; t < ids.length; t++) {
    const row = clampId(ids[t], v);
    for (let j = 0; j < c; j++) dt[row * c + j] += dy[t * c + j];
  }
  return dt;
}
