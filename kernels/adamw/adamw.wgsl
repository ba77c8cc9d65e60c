// AdamW update in place, global gradient norm and clipping factor (formulas in adamw.ref.ts).
//
// adamw_step*: one invocation updates ITEMS vec4 (or scalars) of p, m, v at stride WG inside its
//   workgroup's chunk; the grid is folded to 2-D for big arenas. Host-side constants: the bias
//   corrections enter as step_size = lr / (1 - b1^t) and rs = 1 / sqrt(1 - b2^t), so the update is
//   p = (p - lr wd p) - step_size * m / (sqrt(v) * rs + eps)   (PyTorch's AdamW order of operations).
//   The *_scaled variants multiply the gradient by scale[0] (clipping) first, read on the GPU.
// sumsq_partial*: each workgroup writes the sum of squares of its chunk (WG * ITEMS vec4) to
//   partials[base + workgroup]; sumsq_final: one workgroup sums the partials in a fixed order.
//   Two passes and fixed orders instead of atomics (none for f32 anyway): deterministic.
// clip_scale: out = min(1, max_norm / (sqrt(norm_sq) + 1e-6)).
// Deliberately no weight-decay mask (call twice on sub-views) and no AMSGrad.

override WG: u32 = 64u;
override ITEMS: u32 = 4u;

struct Params {
  n: u32, // elements (scalar entries) or vec4 (vec4 entries) in this binding
  lr_wd: f32, // lr * wd, not 1 - lr * wd: that f32 would keep only a few bits of a small lr * wd
  step_size: f32, // lr / (1 - b1^t)
  rs: f32, // 1 / sqrt(1 - b2^t)
  beta1: f32,
  beta2: f32,
  one_minus_beta1: f32, // from the host in f64: 1 - f32(0.999) would be off by 1.3e-5 relative
  one_minus_beta2: f32,
  eps: f32,
  base: u32, // sumsq_partial: first partial slot of this tensor
  max_norm: f32,
}

@group(0) @binding(0) var<uniform> u: Params;

fn wg_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// One element (or four) of the update; returns (p, m, v) as columns.
fn adamw4(p: vec4<f32>, g: vec4<f32>, m: vec4<f32>, v: vec4<f32>) -> mat3x4<f32> {
  let m2 = u.beta1 * m + u.one_minus_beta1 * g;
  let v2 = u.beta2 * v + u.one_minus_beta2 * (g * g);
  let p2 = (p - u.lr_wd * p) - u.step_size * m2 / (sqrt(v2) * u.rs + u.eps);
  return mat3x4<f32>(p2, m2, v2);
}

@group(0) @binding(1) var<storage, read_write> p4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> g4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> scale: array<f32>;

fn step4(i: u32, s: f32) {
  let r = adamw4(p4[i], g4[i] * s, m4[i], v4[i]);
  p4[i] = r[0];
  m4[i] = r[1];
  v4[i] = r[2];
}

@compute @workgroup_size(WG)
fn adamw_step4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let start = wg_index(wid, nwg) * WG * ITEMS + lid;
  for (var k = 0u; k < ITEMS; k++) {
    let i = start + k * WG;
    if (i < u.n) { step4(i, 1.0); }
  }
}

@compute @workgroup_size(WG)
fn adamw_step4_scaled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
  let s = scale[0];
  let start = wg_index(wid, nwg) * WG * ITEMS + lid;
  for (var k = 0u; k < ITEMS; k++) {
    let i = start + k * WG;
    if (i < u.n) { step4(i, s); }
  }
}

@group(0) @binding(1) var<storage, read_write> p1: array<f32>;
@group(0) @binding(2) var<storage, read> g1: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;
@group(0) @binding(4) var<storage, read_write> v1: array<f32>;

fn step1(i: u32, s: f32) {
  let r = adamw4(vec4<f32>(p1[i]), vec4<f32>(g1[i] * s), vec4<f32>(m1[i]), vec4<f32>(v1[i]));
  p1[i] = r[0].x;
  m1[i] = r[1].x;
  v1[i] = r[2].x;
}

@compute @workgroup_size(WG)
fn adamw_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let start = wg_index(wid, nwg) * WG * ITEMS + lid;
  for (var k = 0u; k < ITEMS; k++) {
    let i = start + k * WG;
    if (i < u.n) { step1(i, 1.0); }
  }
}

@compute @workgroup_size(WG)
fn adamw_step_scaled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let s = scale[0];
  let start = wg_index(wid, nwg) * WG * ITEMS + lid;
  for (var k = 0u; k < ITEMS; k++) {
    let i = start + k * WG;
    if (i < u.n) { step1(i, s); }
  }
}

// ---- gradient norm --------------------------------------------------------------------------------

var<workgroup> red: array<f32, WG>;

// Sum of `acc` over the workgroup into red[0] (read it in invocation 0 only: no barrier follows).
fn wg_sum(lid: u32, acc: f32) {
  red[lid] = acc;
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    workgroupBarrier();
    if (lid < stride) {
      red[lid] = red[lid] + red[lid + stride];
    }
  }
}

@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;

@compute @workgroup_size(WG)
fn sumsq_partial4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let w = wg_index(wid, nwg);
  let start = w * WG * ITEMS + lid;
  var acc = vec4<f32>(0.0);
  for (var k = 0u; k < ITEMS; k++) {
    let i = start + k * WG;
    if (i < u.n) {
      let x = x4[i];
      acc += x * x;
    }
  }
  wg_sum(lid, (acc.x + acc.y) + (acc.z + acc.w));
  if (lid == 0u) {
    partials[u.base + w] = red[0];
  }
}

@group(0) @binding(1) var<storage, read> x1: array<f32>;

@compute @workgroup_size(WG)
fn sumsq_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let w = wg_index(wid, nwg);
  let start = w * WG * ITEMS + lid;
  var acc = 0.0;
  for (var k = 0u; k < ITEMS; k++) {
    let i = start + k * WG;
    if (i < u.n) {
      let x = x1[i];
      acc += x * x;
    }
  }
  wg_sum(lid, acc);
  if (lid == 0u) {
    partials[u.base + w] = red[0];
  }
}

@group(0) @binding(1) var<storage, read> parts_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> norm_sq: array<f32>;

@compute @workgroup_size(WG)
fn sumsq_final(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < u.n; i += WG) {
    acc += parts_in[i];
  }
  wg_sum(lid, acc);
  if (lid == 0u) {
    norm_sq[0] = red[0];
  }
}

@group(0) @binding(1) var<storage, read> ns_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> clip: array<f32>;

@compute @workgroup_size(1)
fn clip_scale() {
  clip[0] = min(1.0, u.max_norm / (sqrt(ns_in[0]) + 1e-6));
}
