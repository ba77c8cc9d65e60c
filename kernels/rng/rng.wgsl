// Philox-4x32-10 on the GPU, bit-exact with kernels/rng/philox.ts (mapping, constants and the
// uniform-float definition are documented there; Salmon et al. 2011, "Parallel random numbers: as
// easy as 1, 2, 3", Random123's philox.h round structure).
// philox_fill: `rows` independent rows of n draws; row q uses stream words (s0, s1 + q) (with
// streamOf(tag, a, b) that is sample b + q: one dispatch for a batch of per-sample streams).
// Invocation t = q * bpr + i computes counter block block0 + i (64-bit add with carry) of row q
// and writes its four words to out[q n + 4 i + w - r] for those in [0, n), where r = offset mod 4,
// block0 = floor(offset / 4) and bpr = ceil((n + r) / 4): element k of a row is element
// offset + k of its stream.
// UNIFORM: write f32 (u >> 8) * 2^-24 (exact in f32) instead of the u32 itself.
// The Philox block function itself (16-bit-limb mulhi: WGSL has no u64) lives in philox.wgsl,
// shared by `// #include` with kernels that draw noise inline (sample-pick); the rng specs check it
// bit for bit against the reference.
// Deliberately no normal/Gumbel transforms here: consumers apply them to the draws (see rng.ts for
// the conventions; sampling's Gumbel transform is kernels/sample-pick/noise.wgsl) so that each use
// keeps one documented formula.

override WG: u32 = 64u;
override UNIFORM: bool = false;

struct Params {
  k0: u32, // key = seed (lo, hi)
  k1: u32,
  s0: u32, // stream words = counter words c2, c3
  s1: u32,
  b0_lo: u32, // first block = floor(offset / 4) (lo, hi)
  b0_hi: u32,
  n: u32, // outputs per row
  r: u32, // offset mod 4
  rows: u32,
  bpr: u32, // blocks per row
}

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG)
fn philox_fill(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  let q = t / u.bpr;
  if (q >= u.rows) {
    return;
  }
  let i = t % u.bpr;
  let lo = u.b0_lo + i;
  let hi = u.b0_hi + select(0u, 1u, lo < i);
  let words = philox4x32(vec4<u32>(lo, hi, u.s0, u.s1 + q), vec2<u32>(u.k0, u.k1));
  for (var w = 0u; w < 4u; w++) {
    let j = 4u * i + w;
    if (j >= u.r && j - u.r < u.n) {
      var x = words[w];
      if (UNIFORM) {
        x = bitcast<u32>(philox_uniform(x));
      }
      out[q * u.n + j - u.r] = x;
    }
  }
}

// #include "philox.wgsl"
