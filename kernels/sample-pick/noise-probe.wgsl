// Test probes of the sampling noise (noise.wgsl), never dispatched while sampling:
// FILL = false: out[i] = gumbel_of(n_i) for given 54-bit n_i = (ns[2i], ns[2i + 1]): the transform
//   against float64 at chosen points (the far tails);
// FILL = true: out[v] = the pick kernel's g of vocabulary id v < n under one noise key: the
//   distribution of what sampling adds, many draws at once (one invocation per pair of ids, as the
//   pick kernel shares one Philox block between them).

override WG: u32 = 64u;
override FILL: bool = false;

struct Params {
  n: u32,
  tag_block: u32, // (STREAM_TAG.sampling << 24) | block
  step: u32,
  position: u32,
  seed: vec2<u32>,
}

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> ns: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn gumbel_probe(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (FILL) {
    if (2u * i >= u.n) {
      return;
    }
    let w = noise_words(u.seed, u.tag_block, u.step, u.position, i);
    out[2u * i] = gumbel_of(noise_n(w, 0u));
    if (2u * i + 1u < u.n) {
      out[2u * i + 1u] = gumbel_of(noise_n(w, 1u));
    }
  } else {
    if (i >= u.n) {
      return;
    }
    out[i] = gumbel_of(vec2<u32>(ns[2u * i], ns[2u * i + 1u]));
  }
}

// #include "../rng/philox.wgsl"
// #include "noise.wgsl"
