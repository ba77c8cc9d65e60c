// Shared-memory tiled matmul for real GPUs: C[z] (+)= op(A[z]) op(B[z]) in f32 (B may be stored
// bf16/f16, decoded as it is staged). A 16x16 workgroup owns a 64x64 output tile and walks k in
// slabs of 16: each slab of op(A) (64x16) and op(B) (16x64) is staged in workgroup memory by all
// 256 invocations, with each invocation reading 4 consecutive floats along its operand's contiguous
// axis (so transposed operands load coalesced too), then every invocation accumulates a 4x4 block
// from vec4 reads of the slabs. The classic GPU design (e.g. the CUDA programming guide's shared-
// memory matmul, with register blocking as in Volkov & Demmel 2008). It deliberately is not used on
// llvmpipe, where barriers are coroutine switches (about 1.4 GFLOP/s there, measured); matmul-
// subgroup.wgsl serves that. Edges: rows/columns are clamped (never stored), k beyond K is zero-
// filled.

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
// B when it holds 16-bit floats (B_DTYPE != 0), two per u32 word; the launcher binds B here too
// when it is f32 (then this binding is never read).
@group(0) @binding(4) var<storage, read> bh: array<u32>;

// Element o of B as f32, whatever its storage type.
fn read_b(o: u32) -> f32 {
  if (B_DTYPE != 0u) {
    let v = unpack_b2(bh[o / 2u]);
    return select(v.x, v.y, (o & 1u) == 1u);
  }
  return b[o];
}

const TK = 16u;
// Slab [kk][m] of op(A) and [kk][n] of op(B), as vec4 over m / n: index kk*16 + m/4.
var<workgroup> as_: array<vec4f, 256>;
var<workgroup> bs_: array<vec4f, 256>;

// 4 consecutive elements of op(A) or op(B) along the operand's contiguous axis into a slab.
// `along_k`: the operand is stored with k contiguous (A (M, K) or B (N, K)); then invocation t
// takes row t/4 of the tile and k = 4*(t%4) .. +3, else k = t/16 and 4 rows 4*(t%16) .. +3.
fn stage(t: u32, along_k: bool, is_a: bool, base: u32, r0: u32, rows: u32, k0: u32) {
  let K = u.K;
  var idx: u32;
  var kk: u32;
  var rr: u32;
  if (along_k) {
    rr = t / 4u;
    kk = 4u * (t % 4u);
    let row = min(r0 + rr, rows - 1u);
    for (var q = 0u; q < 4u; q++) {
      let k = k0 + kk + q;
      var v = 0.0;
      if (k < K) {
        let o = base + row * K + k;
        if (is_a) { v = a[o]; } else { v = read_b(o); }
      }
      let s = (kk + q) * 16u + rr / 4u;
      if (is_a) { as_[s][rr % 4u] = v; } else { bs_[s][rr % 4u] = v; }
    }
  } else {
    kk = t / 16u;
    rr = 4u * (t % 16u);
    let k = k0 + kk;
    var v = vec4f(0.0);
    if (k < K) {
      for (var q = 0u; q < 4u; q++) {
        let o = base + k * rows + min(r0 + rr + q, rows - 1u);
        if (is_a) { v[q] = a[o]; } else { v[q] = read_b(o); }
      }
    }
    if (is_a) { as_[kk * 16u + rr / 4u] = v; } else { bs_[kk * 16u + rr / 4u] = v; }
  }
}

@compute @workgroup_size(16, 16)
fn matmul_tiled(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(local_invocation_index) t: u32,
) {
  let tile = wg.x + wg.y * nwg.x; // folded 1-D list of tiles (engine grid1d)
  let tm = tile / u.tiles_n;
  if (tm >= u.tiles_m) { return; }
  let m0 = tm * 64u;
  let n0 = (tile % u.tiles_n) * 64u;
  let z = wg.z;
  let M = max(u.M, 1u);
  let N = max(u.N, 1u);
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var r = 0u; r < u.n_red; r++) {
    let abase = z * u.a_bs + r * u.a_rs;
    let bbase = z * u.b_bs + r * u.b_rs;
    for (var k0 = 0u; k0 < u.K; k0 += TK) {
      stage(t, !TRANS_A, true, abase, m0, M, k0);
      stage(t, TRANS_B, false, bbase, n0, N, k0);
      workgroupBarrier();
      for (var kk = 0u; kk < TK; kk++) {
        let av = as_[kk * 16u + lid.y];
        let bv = bs_[kk * 16u + lid.x];
        acc0 = fma(vec4f(av.x), bv, acc0);
        acc1 = fma(vec4f(av.y), bv, acc1);
        acc2 = fma(vec4f(av.z), bv, acc2);
        acc3 = fma(vec4f(av.w), bv, acc3);
      }
      workgroupBarrier();
    }
  }
  let base = z * u.c_bs;
  let m = m0 + 4u * lid.y;
  let n = n0 + 4u * lid.x;
  store_row(base, m, n, acc0);
  store_row(base, m + 1u, n, acc1);
  store_row(base, m + 2u, n, acc2);
  store_row(base, m + 3u, n, acc3);
}

fn store_row(base: u32, m: u32, n0: u32, v: vec4f) {
  if (m >= u.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j;
    if (n < u.N) {
      let o = base + m * u.N + n;
      var s = v[j];
      if (u.accumulate != 0u) { s += c[o]; }
      c[o] = s;
    }
  }
}

// TRANS_A, TRANS_B, B_DTYPE, unpack_b2 and Params:
// #include "matmul-params.wgsl"
