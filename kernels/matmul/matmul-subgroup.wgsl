// Matmul fast path for CPU-emulated subgroup devices (Mesa llvmpipe/lavapipe, subgroup size 8):
// C[z] (+)= op(A[z]) op(B[z]) in f32, one 8-lane workgroup per 32x32 output tile.
// Why this shape (shared/PERF.md, and llvmpipe's lp_bld_nir_soa.c): each WGSL scalar is an 8-wide
// CPU vector; a storage load whose address is not a compile-time uniform is a loop over the 8
// lanes with a mask test, a bounds test per component and an insert; workgroupBarrier is a
// coroutine switch; subgroupShuffle with a constant lane is one vector permute. So: no workgroup
// memory, no barriers, as few load instructions per FMA as possible:
//  - A and B are bound as array<vec4f>: one vec4 load is one lane loop for 4 floats (4 scalar
//    loads would be 4 loops). Per 4 k steps each lane loads 4 vec4 of A and 4 of B, along whichever
//    axis is contiguous in memory (transposing 4x4 in registers), so every layout reads whole
//    cache lines: TRANS_A / TRANS_B cost the same as the plain layout.
//  - Lane j holds rows 4j..4j+3 of the A^T slab and columns 4j..4j+3 of B; 8 constant-lane shuffles
//    give every lane all 32 A values, and each lane accumulates its 32x4 slice of the tile.
//    128 FMAs per lane per k for 2 vec4 loads.
// Edges: rows/columns past M/N read whatever the (robust) buffer access returns and land only in
// accumulators that are never stored; k past K is zeroed in both factors.
// A vec4 group that does not start at a multiple of 4 (ALIGNED_* false: an odd M, N or K along the
// contiguous axis) is assembled from two aligned loads. The launcher binds A and B rounded up to 16
// bytes. Stores: `matmul_subgroup` writes vec4 rows (N % 4 == 0), `matmul_subgroup_n1` floats.
// It deliberately does not handle subgroups narrower than 8 lanes (the launcher never picks it
// there) and is not meant for real GPUs, which want matmul-tiled.wgsl. This file enables
// `subgroups`, so it only compiles on devices with that feature (portable path: matmul.wgsl).
enable subgroups;

override ALIGNED_A: bool = true; // every 4-float group read from A starts at a multiple of 4
override ALIGNED_B: bool = true;

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> c4: array<vec4f>; // matmul_subgroup
@group(0) @binding(3) var<storage, read_write> c1: array<f32>; // matmul_subgroup_n1

// Floats e..e+3 of A (or B).
fn load_a(e: u32) -> vec4f {
  if (ALIGNED_A) { return a[e / 4u]; }
  return realign(a[e / 4u], a[e / 4u + 1u], e % 4u);
}

fn load_b(e: u32) -> vec4f {
  if (ALIGNED_B) { return b[e / 4u]; }
  return realign(b[e / 4u], b[e / 4u + 1u], e % 4u);
}

// Floats s..s+3 of the 8 floats (v0, v1).
fn realign(v0: vec4f, v1: vec4f, s: u32) -> vec4f {
  var v = v0;
  if (s == 1u) { v = vec4f(v0.yzw, v1.x); }
  if (s == 2u) { v = vec4f(v0.zw, v1.xy); }
  if (s == 3u) { v = vec4f(v0.w, v1.xyz); }
  return v;
}

fn transpose4(r0: vec4f, r1: vec4f, r2: vec4f, r3: vec4f) -> array<vec4f, 4> {
  return array<vec4f, 4>(
    vec4f(r0.x, r1.x, r2.x, r3.x), vec4f(r0.y, r1.y, r2.y, r3.y),
    vec4f(r0.z, r1.z, r2.z, r3.z), vec4f(r0.w, r1.w, r2.w, r3.w));
}

// The 32x32 tile at (m0, n0) of batch z: row i of the result is acc[i], columns 4*lane..+3.
fn tile_product(m0: u32, n0: u32, z: u32, lane: u32) -> array<vec4f, 32> {
  let M = u.M;
  let N = u.N;
  let K = u.K;
  let mrow = m0 + 4u * lane;
  let ncol = n0 + 4u * lane;
  var acc: array<vec4f, 32>;
  for (var r = 0u; r < u.n_red; r++) {
    let a0 = z * u.a_bs + r * u.a_rs;
    let b0 = z * u.b_bs + r * u.b_rs;
    for (var k0 = 0u; k0 < K; k0 += 4u) {
      var ak: array<vec4f, 4>; // ak[q][i] = op(A)[mrow + i, k0 + q]
      var bk: array<vec4f, 4>; // bk[q][i] = op(B)[k0 + q, ncol + i]
      if (TRANS_A) { // A[k*M + m]
        let e = a0 + k0 * M + mrow;
        ak = array<vec4f, 4>(load_a(e), load_a(e + M), load_a(e + 2u * M), load_a(e + 3u * M));
      } else { // A[m*K + k]
        let e = a0 + mrow * K + k0;
        ak = transpose4(load_a(e), load_a(e + K), load_a(e + 2u * K), load_a(e + 3u * K));
      }
      if (TRANS_B) { // B[n*K + k]
        let e = b0 + ncol * K + k0;
        bk = transpose4(load_b(e), load_b(e + K), load_b(e + 2u * K), load_b(e + 3u * K));
      } else { // B[k*N + n]
        let e = b0 + k0 * N + ncol;
        bk = array<vec4f, 4>(load_b(e), load_b(e + N), load_b(e + 2u * N), load_b(e + 3u * N));
      }
      // Past K (the last group when K % 4 != 0) both factors are zeroed, so not even Inf leaks in.
      let kv = vec4u(k0) + vec4u(0u, 1u, 2u, 3u) < vec4u(K);
      let z4 = vec4f(0.0);
      step(select(z4, ak[0], kv.x), select(z4, bk[0], kv.x), &acc);
      step(select(z4, ak[1], kv.y), select(z4, bk[1], kv.y), &acc);
      step(select(z4, ak[2], kv.z), select(z4, bk[2], kv.z), &acc);
      step(select(z4, ak[3], kv.w), select(z4, bk[3], kv.w), &acc);
    }
  }
  return acc;
}

// One k step: lane j's 4 A values (rows 4j..4j+3) are shuffled to every lane and multiplied into
// the lane's 32x4 accumulators.
fn step(av: vec4f, bv: vec4f, acc: ptr<function, array<vec4f, 32>>) {
  let s0 = subgroupShuffle(av, 0u);
  let s1 = subgroupShuffle(av, 1u);
  let s2 = subgroupShuffle(av, 2u);
  let s3 = subgroupShuffle(av, 3u);
  let s4 = subgroupShuffle(av, 4u);
  let s5 = subgroupShuffle(av, 5u);
  let s6 = subgroupShuffle(av, 6u);
  let s7 = subgroupShuffle(av, 7u);
  (*acc)[0] = fma(vec4f(s0.x), bv, (*acc)[0]);
  (*acc)[1] = fma(vec4f(s0.y), bv, (*acc)[1]);
  (*acc)[2] = fma(vec4f(s0.z), bv, (*acc)[2]);
  (*acc)[3] = fma(vec4f(s0.w), bv, (*acc)[3]);
  (*acc)[4] = fma(vec4f(s1.x), bv, (*acc)[4]);
  (*acc)[5] = fma(vec4f(s1.y), bv, (*acc)[5]);
  (*acc)[6] = fma(vec4f(s1.z), bv, (*acc)[6]);
  (*acc)[7] = fma(vec4f(s1.w), bv, (*acc)[7]);
  (*acc)[8] = fma(vec4f(s2.x), bv, (*acc)[8]);
  (*acc)[9] = fma(vec4f(s2.y), bv, (*acc)[9]);
  (*acc)[10] = fma(vec4f(s2.z), bv, (*acc)[10]);
  (*acc)[11] = fma(vec4f(s2.w), bv, (*acc)[11]);
  (*acc)[12] = fma(vec4f(s3.x), bv, (*acc)[12]);
  (*acc)[13] = fma(vec4f(s3.y), bv, (*acc)[13]);
  (*acc)[14] = fma(vec4f(s3.z), bv, (*acc)[14]);
  (*acc)[15] = fma(vec4f(s3.w), bv, (*acc)[15]);
  (*acc)[16] = fma(vec4f(s4.x), bv, (*acc)[16]);
  (*acc)[17] = fma(vec4f(s4.y), bv, (*acc)[17]);
  (*acc)[18] = fma(vec4f(s4.z), bv, (*acc)[18]);
  (*acc)[19] = fma(vec4f(s4.w), bv, (*acc)[19]);
  (*acc)[20] = fma(vec4f(s5.x), bv, (*acc)[20]);
  (*acc)[21] = fma(vec4f(s5.y), bv, (*acc)[21]);
  (*acc)[22] = fma(vec4f(s5.z), bv, (*acc)[22]);
  (*acc)[23] = fma(vec4f(s5.w), bv, (*acc)[23]);
  (*acc)[24] = fma(vec4f(s6.x), bv, (*acc)[24]);
  (*acc)[25] = fma(vec4f(s6.y), bv, (*acc)[25]);
  (*acc)[26] = fma(vec4f(s6.z), bv, (*acc)[26]);
  (*acc)[27] = fma(vec4f(s6.w), bv, (*acc)[27]);
  (*acc)[28] = fma(vec4f(s7.x), bv, (*acc)[28]);
  (*acc)[29] = fma(vec4f(s7.y), bv, (*acc)[29]);
  (*acc)[30] = fma(vec4f(s7.z), bv, (*acc)[30]);
  (*acc)[31] = fma(vec4f(s7.w), bv, (*acc)[31]);
}

struct Tile {
  m0: u32,
  n0: u32,
  ok: bool,
}

// The (x, y) grid is a folded 1-D list of tiles (engine grid1d).
fn tile_at(wg: vec3u, nwg: vec3u) -> Tile {
  let t = wg.x + wg.y * nwg.x;
  let tm = t / u.tiles_n;
  return Tile(tm * 32u, (t % u.tiles_n) * 32u, tm < u.tiles_m);
}

@compute @workgroup_size(8)
fn matmul_subgroup(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let t = tile_at(wg, nwg);
  if (!t.ok) { return; }
  // A value copy: only the copy is indexed dynamically below, so the accumulators themselves stay
  // in registers (an unrolled 32-row store takes LLVM tens of seconds to compile).
  let acc = tile_product(t.m0, t.n0, wg.z, lane);
  let col = t.n0 + 4u * lane;
  if (col >= u.N) { return; }
  let rows = min(u.M - t.m0, 32u);
  let base = (wg.z * u.c_bs + t.m0 * u.N + col) / 4u;
  for (var i = 0u; i < rows; i++) {
    let o = base + i * (u.N / 4u);
    var v = acc[i];
    if (u.accumulate != 0u) { v += c4[o]; }
    c4[o] = v;
  }
}

@compute @workgroup_size(8)
fn matmul_subgroup_n1(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let t = tile_at(wg, nwg);
  if (!t.ok) { return; }
  let acc = tile_product(t.m0, t.n0, wg.z, lane);
  let col = t.n0 + 4u * lane;
  if (col >= u.N) { return; }
  let ncols = min(u.N - col, 4u);
  let rows = min(u.M - t.m0, 32u);
  let base = wg.z * u.c_bs + t.m0 * u.N + col;
  for (var i = 0u; i < rows; i++) {
    let v = acc[i];
    for (var j = 0u; j < ncols; j++) {
      let o = base + i * u.N + j;
      var s = v[j];
      if (u.accumulate != 0u) { s += c1[o]; }
      c1[o] = s;
    }
  }
}

// TRANS_A, TRANS_B and Params:
// #include "matmul-params.wgsl"
