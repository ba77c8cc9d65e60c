// Matmul fast path for CPU-emulated subgroup devices (Mesa llvmpipe/lavapipe, subgroup size 8):
// C[z] (+)= op(A[z]) op(B[z]) in f32 (B may be stored bf16/f16, decoded as it is loaded), one
// 8-lane workgroup per 32x32 output tile.
// Why this shape (llvmpipe's generated IR, and its lp_bld_nir_soa.c): each WGSL scalar is an 8-wide
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
//    128 FMAs per lane per k for 2 vec4 loads. Those loads dominate the time (each one is a
//    lane-by-lane loop whose cache misses are serial), which is why the tile order (tile_at) and
//    skipping every load that is not needed (ACCUMULATE, FAST) matter as much as the FMAs.
//  - The 32x4 accumulators do not fit in registers, so the FMAs run 4 rows x 4 k steps at a time
//    (rows4): 16 FMAs per 4 accumulators loaded and stored, not 4 as a k-at-a-time order gives.
// Measured on lavapipe (Zen 4, 2 cores): 1024^3 went from ~15 to ~24-30 GFLOP/s with rows4, the
// grouped tile order and constant-indexed stores together. Larger tiles (64x64, 64x128 per
// workgroup) were no faster and took LLVM 10-40 s to compile.
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
// The common case, compiled without any edge, alignment or batch code: M % 32 == 0, N % 32 == 0,
// K % 4 == 0 (so both operands are aligned), one output batch and nothing summed into it. Each
// piece it drops measured 5-25% at 1024^3 on lavapipe (batch offsets as uniforms ~25%, row and
// column tests and zeroing past K ~5% each). One switch rather than one per piece, so a kernel
// that takes 1-3 s to compile on a CPU comes in few variants.
override FAST: bool = false;
// C += A B instead of C = A B. A constant rather than a branch on u.accumulate: reading C when it
// is not needed costs cache misses in lavapipe's one-lane-at-a-time loads (about 10% at 1024^3).
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> c4: array<vec4f>; // matmul_subgroup
@group(0) @binding(3) var<storage, read_write> c1: array<f32>; // matmul_subgroup_n1
// B when it holds 16-bit floats (B_DTYPE != 0): 4 values per vec2u, so a group of 4 is still one
// load. The launcher binds B here too when it is f32 (the unused binding costs nothing).
@group(0) @binding(4) var<storage, read> bh: array<vec2u>;

// Floats e..e+3 of A (or B).
fn load_a(e: u32) -> vec4f {
  if (ALIGNED_A) { return a[e / 4u]; }
  return realign(a[e / 4u], a[e / 4u + 1u], e % 4u);
}

fn load_b(e: u32) -> vec4f {
  if (B_DTYPE != 0u) {
    if (ALIGNED_B) { return unpack_b4(bh[e / 4u]); }
    return realign(unpack_b4(bh[e / 4u]), unpack_b4(bh[e / 4u + 1u]), e % 4u);
  }
  if (ALIGNED_B) { return b[e / 4u]; }
  return realign(b[e / 4u], b[e / 4u + 1u], e % 4u);
}

fn unpack_b4(w: vec2u) -> vec4f {
  return vec4f(unpack_b2(w.x), unpack_b2(w.y));
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
  for (var r = 0u; r < select(u.n_red, 1u, FAST); r++) {
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
      var av = ak;
      var bv = bk;
      if (!FAST) {
        // Past K (the last group when K % 4 != 0) both factors are zeroed, so not even Inf leaks in.
        let kv = vec4u(k0) + vec4u(0u, 1u, 2u, 3u) < vec4u(K);
        let z4 = vec4f(0.0);
        av = array<vec4f, 4>(select(z4, ak[0], kv.x), select(z4, ak[1], kv.y), select(z4, ak[2], kv.z), select(z4, ak[3], kv.w));
        bv = array<vec4f, 4>(select(z4, bk[0], kv.x), select(z4, bk[1], kv.y), select(z4, bk[2], kv.z), select(z4, bk[3], kv.w));
      }
      rows4(0u, av, bv, &acc);
      rows4(1u, av, bv, &acc);
      rows4(2u, av, bv, &acc);
      rows4(3u, av, bv, &acc);
      rows4(4u, av, bv, &acc);
      rows4(5u, av, bv, &acc);
      rows4(6u, av, bv, &acc);
      rows4(7u, av, bv, &acc);
    }
  }
  return acc;
}

// Rows 4*owner..4*owner+3 of the tile over the 4 k steps of one group: lane `owner` holds those
// rows' A values; a constant-lane shuffle hands them to every lane, which multiplies them into its
// 4 columns. Doing all 4 k steps for 4 rows before moving on keeps those 4 accumulators in
// registers for 16 FMAs, instead of reloading all 32 (which cannot stay in registers) at every k.
fn rows4(owner: u32, av: array<vec4f, 4>, bv: array<vec4f, 4>, acc: ptr<function, array<vec4f, 32>>) {
  let i = 4u * owner;
  var c0 = (*acc)[i];
  var c1 = (*acc)[i + 1u];
  var c2 = (*acc)[i + 2u];
  var c3 = (*acc)[i + 3u];
  for (var q = 0u; q < 4u; q++) {
    let s = subgroupShuffle(av[q], owner);
    c0 = fma(vec4f(s.x), bv[q], c0);
    c1 = fma(vec4f(s.y), bv[q], c1);
    c2 = fma(vec4f(s.z), bv[q], c2);
    c3 = fma(vec4f(s.w), bv[q], c3);
  }
  (*acc)[i] = c0;
  (*acc)[i + 1u] = c1;
  (*acc)[i + 2u] = c2;
  (*acc)[i + 3u] = c3;
}

struct Tile {
  m0: u32,
  n0: u32,
  ok: bool,
}

// Tile rows taken together by consecutive workgroups (see tile_at).
const GROUP_M = 8u;

// The (x, y) grid is a folded 1-D list of tiles (engine grid1d). Tiles run in groups of GROUP_M
// tile rows, down the rows of a group before moving one tile column right ("grouped ordering", as
// in Triton's matmul tutorial): workgroups running side by side then share B panels and reuse a
// group's A panels from cache instead of streaming whole operands from memory for every tile row.
// It made 1024^3 about 1.4x faster on lavapipe; the result does not depend on the order.
fn tile_at(wg: vec3u, nwg: vec3u) -> Tile {
  let t = wg.x + wg.y * nwg.x;
  let span = GROUP_M * u.tiles_n;
  let g0 = (t / span) * GROUP_M;
  let rows = max(1u, min(GROUP_M, u.tiles_m - min(g0, u.tiles_m)));
  let r = t % span;
  let tm = g0 + r % rows;
  return Tile(tm * 32u, (r / rows) * 32u, tm < u.tiles_m && r / rows < u.tiles_n);
}

@compute @workgroup_size(8)
fn matmul_subgroup(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let t = tile_at(wg, nwg);
  if (!t.ok) { return; }
  let z = select(wg.z, 0u, FAST);
  let acc = tile_product(t.m0, t.n0, z, lane);
  let col = t.n0 + 4u * lane;
  // Lanes past N keep going (a divergent return masks everything after it, which cost ~10%); the
  // column test sits in store_row and is a constant true in the FAST variant.
  let col_ok = col < u.N;
  let rows = min(u.M - t.m0, 32u);
  let n4 = u.N / 4u;
  let base = (z * u.c_bs + t.m0 * u.N + col) / 4u;
  // One statement per row, each with a constant index: a loop indexing `acc` dynamically would
  // turn the accumulators into an indexed array for the whole kernel (10-20% slower on lavapipe).
  store_row(0u, acc[0], rows, col_ok, base, n4);
  store_row(1u, acc[1], rows, col_ok, base, n4);
  store_row(2u, acc[2], rows, col_ok, base, n4);
  store_row(3u, acc[3], rows, col_ok, base, n4);
  store_row(4u, acc[4], rows, col_ok, base, n4);
  store_row(5u, acc[5], rows, col_ok, base, n4);
  store_row(6u, acc[6], rows, col_ok, base, n4);
  store_row(7u, acc[7], rows, col_ok, base, n4);
  store_row(8u, acc[8], rows, col_ok, base, n4);
  store_row(9u, acc[9], rows, col_ok, base, n4);
  store_row(10u, acc[10], rows, col_ok, base, n4);
  store_row(11u, acc[11], rows, col_ok, base, n4);
  store_row(12u, acc[12], rows, col_ok, base, n4);
  store_row(13u, acc[13], rows, col_ok, base, n4);
  store_row(14u, acc[14], rows, col_ok, base, n4);
  store_row(15u, acc[15], rows, col_ok, base, n4);
  store_row(16u, acc[16], rows, col_ok, base, n4);
  store_row(17u, acc[17], rows, col_ok, base, n4);
  store_row(18u, acc[18], rows, col_ok, base, n4);
  store_row(19u, acc[19], rows, col_ok, base, n4);
  store_row(20u, acc[20], rows, col_ok, base, n4);
  store_row(21u, acc[21], rows, col_ok, base, n4);
  store_row(22u, acc[22], rows, col_ok, base, n4);
  store_row(23u, acc[23], rows, col_ok, base, n4);
  store_row(24u, acc[24], rows, col_ok, base, n4);
  store_row(25u, acc[25], rows, col_ok, base, n4);
  store_row(26u, acc[26], rows, col_ok, base, n4);
  store_row(27u, acc[27], rows, col_ok, base, n4);
  store_row(28u, acc[28], rows, col_ok, base, n4);
  store_row(29u, acc[29], rows, col_ok, base, n4);
  store_row(30u, acc[30], rows, col_ok, base, n4);
  store_row(31u, acc[31], rows, col_ok, base, n4);
}

fn store_row(i: u32, v: vec4f, rows: u32, col_ok: bool, base: u32, n4: u32) {
  if (FAST || (i < rows && col_ok)) {
    let o = base + i * n4;
    if (ACCUMULATE) {
      c4[o] += v;
    } else {
      c4[o] = v;
    }
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
  let z = wg.z; // never FAST: N % 4 != 0
  let acc = tile_product(t.m0, t.n0, z, lane);
  let col = t.n0 + 4u * lane;
  if (col >= u.N) { return; }
  let ncols = min(u.N - col, 4u);
  let rows = min(u.M - t.m0, 32u);
  let base = z * u.c_bs + t.m0 * u.N + col;
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

// TRANS_A, TRANS_B, B_DTYPE, unpack_b2 and Params:
// #include "matmul-params.wgsl"
