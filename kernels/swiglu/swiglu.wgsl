// SwiGLU: out = silu(gate) * up with silu(g) = g * sigmoid(g), LLaDA's MLP activation
// (GSAI-ML/LLaDA modeling_llada.py, LLaDALlamaBlock: act(ff_proj(x)) * up_proj(x), act = SiLU).
// Backward:
//   d_gate = dy * up * s * (1 + g * (1 - s)),   d_up = dy * g * s,   s = sigmoid(g).
// Numerically safe for any finite g: sigmoid is computed from e = exp(-|g|) (never overflows), and
// 1 - s is taken as sigmoid(-g) directly (no cancellation for large g). Elementwise; the *4 entry
// points read and write vec4s when the element count is a multiple of 4 (the scalar ones cover the
// rest, computing in a vec4 register to share the formulas). Not here: fusing the up/gate matmuls.

override WG: u32 = 64u;

struct Params {
  n: u32, // elements (scalar entries) or vec4s (vec4 entries)
}

@group(0) @binding(0) var<uniform> u: Params;

// (sigmoid(g), sigmoid(-g)) = (s, 1 - s), both accurate for any finite g.
fn sig_pair(g: vec4<f32>) -> array<vec4<f32>, 2> {
  let e = exp(-abs(g));  // in [0, 1]
  let p = 1.0 / (1.0 + e); // sigmoid(|g|)
  let pos = g >= vec4<f32>(0.0);
  return array<vec4<f32>, 2>(select(e * p, p, pos), select(p, e * p, pos));
}

fn fwd(g: vec4<f32>, up: vec4<f32>) -> vec4<f32> {
  let s = sig_pair(g)[0];
  return (g * s) * up;
}

// Returns (d_gate, d_up).
fn bwd(g: vec4<f32>, up: vec4<f32>, dy: vec4<f32>) -> array<vec4<f32>, 2> {
  let sp = sig_pair(g);
  let s = sp[0];
  return array<vec4<f32>, 2>(dy * up * s * (1.0 + g * sp[1]), dy * (g * s));
}

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> upv: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn swiglu_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= u.n) {
    return;
  }
  out[i] = fwd(vec4<f32>(gate[i]), vec4<f32>(upv[i])).x;
}

@group(0) @binding(1) var<storage, read> gate4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> up4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn swiglu_fwd4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= u.n) {
    return;
  }
  out4[i] = fwd(gate4[i], up4[i]);
}

@group(0) @binding(1) var<storage, read> bgate: array<f32>;
@group(0) @binding(2) var<storage, read> bup: array<f32>;
@group(0) @binding(3) var<storage, read> bdy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(5) var<storage, read_write> dup: array<f32>;

@compute @workgroup_size(WG)
fn swiglu_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= u.n) {
    return;
  }
  let d = bwd(vec4<f32>(bgate[i]), vec4<f32>(bup[i]), vec4<f32>(bdy[i]));
  dgate[i] = d[0].x;
  dup[i] = d[1].x;
}

@group(0) @binding(1) var<storage, read> bgate4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bup4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bdy4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dgate4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> dup4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn swiglu_bwd4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= u.n) {
    return;
  }
  let d = bwd(bgate4[i], bup4[i], bdy4[i]);
  dgate4[i] = d[0];
  dup4[i] = d[1];
}
