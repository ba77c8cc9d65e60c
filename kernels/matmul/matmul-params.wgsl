// What the three matmul variants share (matmul.wgsl, matmul-subgroup.wgsl, matmul-tiled.wgsl
// each `// #include` it): the transpose specialisations, B's storage type and the per-call
// uniform, which matmul.ts packs once for whichever variant runs.

override TRANS_A: bool = false; // A stored (K, M) instead of (M, K)
override TRANS_B: bool = false; // B stored (N, K) instead of (K, N)
// B's element type: 0 f32 (read through `b`), 1 bf16, 2 f16 (read through `bh` as u32 words of two
// 16-bit values, the lower-addressed one in the low half: little-endian, as every WebGPU buffer is).
// Weights are the B operand of every product that reads them (x W^T, dY W), so only B has this.
override B_DTYPE: u32 = 0u;

// The two 16-bit floats packed in a u32 word, as f32 (exact: both formats widen without rounding).
// bf16 is the top half of an f32 (Google's bfloat16, as PyTorch stores it), so widening is a shift;
// f16 goes through the WGSL builtin, which needs no `shader-f16` feature.
fn unpack_b2(w: u32) -> vec2f {
  if (B_DTYPE == 1u) {
    return vec2f(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u));
  }
  return unpack2x16float(w);
}

struct Params {
  M: u32,
  N: u32,
  K: u32,
  accumulate: u32, // 1: C += A B (matmulInto), 0: C = A B
  a_bs: u32, // element stride of A/B/C per output batch (grid z); 0 for a shared operand
  b_bs: u32,
  c_bs: u32,
  n_red: u32, // batches summed into one output (gradients of a broadcast operand)
  a_rs: u32, // element stride of A/B per summed batch
  b_rs: u32,
  tiles_n: u32,
  tiles_m: u32,
}
