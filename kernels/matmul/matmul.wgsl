// Portable matmul: C[z] (+)= op(A[z]) op(B[z]) in f32 (B may be stored bf16/f16) on any WebGPU
// device, no subgroups, no workgroup memory, no barriers. An 8x8 workgroup owns a 32x32 output
// tile; invocation (x, y) accumulates the 4x4 outputs at rows m0+y+8i and columns n0+x+8j in
// registers (16 FMAs per 8 loads; the stride-8 spread keeps neighbouring invocations on
// neighbouring addresses on GPUs). Transposes are index math (TRANS_A / TRANS_B pick which stride
// walks k). Edges: load addresses are clamped into the matrix once, outside the k loop, and only
// in-range outputs are stored. The batch-sum loop (n_red) computes gradients of a broadcast operand
// in the same dispatch. It deliberately is the simple, always-correct fallback: the fast paths are
// matmul-subgroup.wgsl (llvmpipe-like CPU devices) and matmul-tiled.wgsl (GPUs); all three share
// Params.

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

@compute @workgroup_size(8, 8)
fn matmul_portable(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
) {
  let tile = wg.x + wg.y * nwg.x; // folded 1-D list of tiles (engine grid1d)
  let tm = tile / u.tiles_n;
  if (tm >= u.tiles_m) { return; }
  let m0 = tm * 32u + lid.y;
  let n0 = (tile % u.tiles_n) * 32u + lid.x;
  let z = wg.z;
  let M = u.M;
  let N = u.N;
  let K = u.K;
  let spread = vec4u(0u, 8u, 16u, 24u);
  let mi = min(vec4u(m0) + spread, vec4u(max(M, 1u) - 1u));
  let ni = min(vec4u(n0) + spread, vec4u(max(N, 1u) - 1u));
  // op(A)[m, k] = A[m*K + k] or, transposed, A[k*M + m]; op(B)[k, n] = B[k*N + n] or B[n*K + k].
  var a_row: vec4u;
  var a_step: u32;
  if (TRANS_A) { a_row = mi; a_step = M; } else { a_row = mi * K; a_step = 1u; }
  var b_col: vec4u;
  var b_step: u32;
  if (TRANS_B) { b_col = ni * K; b_step = 1u; } else { b_col = ni; b_step = N; }

  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var r = 0u; r < u.n_red; r++) {
    var ai = a_row + vec4u(z * u.a_bs + r * u.a_rs);
    var bi = b_col + vec4u(z * u.b_bs + r * u.b_rs);
    for (var k = 0u; k < K; k++) {
      let av = vec4f(a[ai.x], a[ai.y], a[ai.z], a[ai.w]);
      let bv = vec4f(read_b(bi.x), read_b(bi.y), read_b(bi.z), read_b(bi.w));
      ai += vec4u(a_step);
      bi += vec4u(b_step);
      acc0 = fma(vec4f(av.x), bv, acc0);
      acc1 = fma(vec4f(av.y), bv, acc1);
      acc2 = fma(vec4f(av.z), bv, acc2);
      acc3 = fma(vec4f(av.w), bv, acc3);
    }
  }
  let base = z * u.c_bs;
  store_row(base, m0, n0, acc0);
  store_row(base, m0 + 8u, n0, acc1);
  store_row(base, m0 + 16u, n0, acc2);
  store_row(base, m0 + 24u, n0, acc3);
}

fn store_row(base: u32, m: u32, n0: u32, v: vec4f) {
  if (m >= u.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + 8u * j;
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
