// What the three matmul variants share (matmul.wgsl, matmul-subgroup.wgsl, matmul-tiled.wgsl
// each `// #include` it): the transpose specialisations and the per-call uniform, which
// matmul.ts packs once for whichever variant runs.

override TRANS_A: bool = false; // A stored (K, M) instead of (M, K)
override TRANS_B: bool = false; // B stored (N, K) instead of (K, N)

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
