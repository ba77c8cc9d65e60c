// Rotary position embedding, LLaDA's half-rotated ("NeoX") form (GSAI-ML/LLaDA modeling_llada.py,
// RotaryEmbedding.rotate_half / apply_rotary_pos_emb): for x of shape (B, T, H, D), halves
// x1 = x[..., :D/2], x2 = x[..., D/2:] and angle = pos * theta^(-2i/D),
//   out1 = x1 cos - x2 sin,   out2 = x2 cos + x1 sin.
// The backward is the inverse rotation, the same kernel with SGN = -1 (sin -> -sin).
// cos/sin come from a host-computed float64 table (pos, i) -> (cos, sin) rounded to f32, so no
// f32 pow/sin/cos runs here: exact to half an ulp for positions up to 4096 and theta 500000, where
// an f32 angle would be off by ~1e-4 rad. One invocation per (b, t, h, i < D/2) pair, or per four
// consecutive pairs in the *4 entry points (vec4 loads; D % 8 == 0, e.g. every LLaDA head dim);
// consecutive invocations read consecutive i (coalesced on GPUs). The offset entry points compute
// the position as pos0 + t, the positions ones read it from a (T) or (B, T) list.
// Not here: partial rotary dims, position scaling.

override WG: u32 = 64u;
override SGN: f32 = 1.0; // 1 forward, -1 backward

struct Params {
  n: u32,         // pairs B * T * H * D/2, or quads of pairs in the *4 entries
  t: u32,         // T
  h: u32,         // H
  hu: u32,        // units per head half: D/2, or D/8 in the *4 entries
  pos0: u32,      // offset entries: position of t = 0
  per_batch: u32, // positions entries: 1 when positions has B * T entries, 0 when T
}

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;           // (B, T, H, D)
@group(0) @binding(2) var<storage, read> table: array<vec2<f32>>; // (P, D/2): (cos, sin)
@group(0) @binding(3) var<storage, read_write> y: array<f32>;     // (B, T, H, D)
@group(0) @binding(4) var<storage, read> positions: array<u32>;   // (T) or (B, T)

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// b * T + t of unit k.
fn token_of(k: u32) -> u32 {
  return k / (u.hu * u.h);
}

fn listed(k: u32) -> u32 {
  let bt = token_of(k);
  return positions[select(bt % u.t, bt, u.per_batch == 1u)];
}

fn rotate(k: u32, pos: u32) {
  let i = k % u.hu;
  let base = (k / u.hu) * 2u * u.hu + i; // row (b, t, h) starts at (k / hu) * D
  let cs = table[pos * u.hu + i];
  let s = SGN * cs.y;
  let x1 = x[base];
  let x2 = x[base + u.hu];
  y[base] = x1 * cs.x - x2 * s;
  y[base + u.hu] = x2 * cs.x + x1 * s;
}

@compute @workgroup_size(WG)
fn rope_offset(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flat(gid, nwg);
  if (k < u.n) {
    rotate(k, u.pos0 + token_of(k) % u.t);
  }
}

@compute @workgroup_size(WG)
fn rope_positions(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flat(gid, nwg);
  if (k < u.n) {
    rotate(k, listed(k));
  }
}

@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;        // (B, T, H, D/4)
@group(0) @binding(2) var<storage, read> table4: array<vec4<f32>>;    // (P, D/4): (cos, sin, cos, sin)
@group(0) @binding(3) var<storage, read_write> y4: array<vec4<f32>>;  // (B, T, H, D/4)

// Four consecutive pairs i = 4 q .. 4 q + 3 of one row.
fn rotate4(k: u32, pos: u32) {
  let q = k % u.hu;
  let base = (k / u.hu) * 2u * u.hu + q;
  let t0 = table4[(pos * u.hu + q) * 2u];
  let t1 = table4[(pos * u.hu + q) * 2u + 1u];
  let c = vec4<f32>(t0.x, t0.z, t1.x, t1.z);
  let s = SGN * vec4<f32>(t0.y, t0.w, t1.y, t1.w);
  let x1 = x4[base];
  let x2 = x4[base + u.hu];
  y4[base] = x1 * c - x2 * s;
  y4[base + u.hu] = x2 * c + x1 * s;
}

@compute @workgroup_size(WG)
fn rope_offset4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flat(gid, nwg);
  if (k < u.n) {
    rotate4(k, u.pos0 + token_of(k) % u.t);
  }
}

@compute @workgroup_size(WG)
fn rope_positions4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flat(gid, nwg);
  if (k < u.n) {
    rotate4(k, listed(k));
  }
}
