// RMSNorm over the last axis of x viewed as (rows, C), as LLaDA's RMSLayerNorm computes it
// (GSAI-ML/LLaDA modeling_llada.py, OLMo-derived): y = x * rsqrt(mean(x^2) + eps) * w, in f32.
// Backward (derivation in rmsnorm.ref.ts), with r = rsqrt(mean(x^2) + eps) saved per row:
//   dx_j = r * (w_j dy_j - x_j * r^2 * dot / C),   dot = sum_k w_k dy_k x_k
//   dw_j = sum_rows dy_j * x_j * r          (two passes: per-chunk partials, then a fixed-order sum)
// Row kernels: LANES invocations cooperate on one row and WG / LANES rows share a workgroup.
// LANES = 1 is one row per invocation with no workgroup memory and no barrier (CPU adapters
// without fixed-size subgroups: on llvmpipe a barrier is a coroutine switch);
// LANES = WG is the usual tree reduction in workgroup memory (the portable GPU path). The
// subgroup-per-row variant (the default where subgroups have a fixed size) is rmsnorm-sg.wgsl.
// No float atomics anywhere: every sum has a fixed order.
// Deliberately not done: protection against x^2 overflowing f32 (|x| > ~1.8e19), as in LLaDA.

override WG: u32 = 64u;
override LANES: u32 = 64u; // power of two dividing WG

var<workgroup> red: array<f32, WG>;

// Sum of `v` over the LANES invocations of this row. Must be called in uniform control flow, once
// per entry point (no trailing barrier protects `red` against a second call).
fn row_sum(v: f32, lid: u32) -> f32 {
  if (LANES == 1u) {
    return v;
  }
  red[lid] = v;
  workgroupBarrier();
  let lane = lid % LANES;
  for (var s = LANES / 2u; s > 0u; s = s >> 1u) {
    if (lane < s) {
      red[lid] = red[lid] + red[lid + s];
    }
    workgroupBarrier();
  }
  return red[lid - lane];
}

// The row kernels (rmsnorm_fwd, rmsnorm_bwd_x) live in rmsnorm-rows.wgsl, shared with the
// subgroup variant.

// Weight gradient, pass 1: invocation (column j, chunk q) sums rows [q * rows_per_chunk, ...) in
// order. Columns are consecutive invocations (coalesced on GPUs). With one chunk, `part` is dw.
@group(0) @binding(1) var<storage, read> wdy: array<f32>;        // (rows, C)
@group(0) @binding(2) var<storage, read> wx: array<f32>;         // (rows, C)
@group(0) @binding(3) var<storage, read> wrstd: array<f32>;      // (rows)
@group(0) @binding(4) var<storage, read_write> part: array<f32>; // (chunks, C)

@compute @workgroup_size(WG)
fn rmsnorm_bwd_w(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  let q = gid.y;
  if (j >= u.c) {
    return;
  }
  let r0 = q * u.rows_per_chunk;
  let r1 = min(r0 + u.rows_per_chunk, u.rows);
  var acc = 0.0;
  for (var row = r0; row < r1; row++) {
    acc += wdy[row * u.c + j] * wx[row * u.c + j] * wrstd[row];
  }
  part[q * u.c + j] = acc;
}

// Weight gradient, pass 2: dw_j = sum over chunks q = 0, 1, ... of part[q, j], in that order.
@group(0) @binding(1) var<storage, read> spart: array<f32>;    // (chunks, C)
@group(0) @binding(2) var<storage, read_write> sdw: array<f32>; // (C)

@compute @workgroup_size(WG)
fn rmsnorm_bwd_w_sum(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  if (j >= u.c) {
    return;
  }
  var acc = 0.0;
  for (var q = 0u; q < u.chunks; q++) {
    acc += spart[q * u.c + j];
  }
  sdw[j] = acc;
}

// #include "rmsnorm-rows.wgsl"
