// Softmax over the last axis of a (rows, n) matrix and its backward dx = y * (dy - sum(dy * y)).
// Two shapes of work, picked by the launcher from n:
// - `*_rows`: one invocation per row (short rows: no reduction across invocations at all);
// - `*_wg`:   one workgroup of WG invocations per row, strided over the row, partials combined by a
//   tree in workgroup memory (long rows, e.g. a 32000-token vocabulary); `*_wg4` is the same over
//   vec4s when n % 4 == 0 (1.6x faster on llvmpipe, where every load is a per-lane gather).
// The forward is a single streaming pass for (max, sum) using the online-softmax recurrence
// (Milakov & Gimelshein 2018, "Online normalizer calculation for softmax") with one exp per
// element, then a second pass writes y. Masking, temperature and other axes are not handled here.

override WG: u32 = 64u; // power of two
const NEG: f32 = -3.4e38; // no Inf literal in WGSL

struct Params {
  rows: u32,
  n: u32,
}

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// Backward bindings, and vec4 views of both sets (entry points never use two sets).
@group(0) @binding(1) var<storage, read> by: array<f32>;
@group(0) @binding(2) var<storage, read> bdy: array<f32>;
@group(0) @binding(3) var<storage, read_write> bdx: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> by4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bdy4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> bdx4: array<vec4<f32>>;

var<workgroup> red_a: array<f32, WG>;
var<workgroup> red_b: array<f32, WG>;

// Online (max, sum) update with one exp: when v raises the max, rescale the old sum instead.
fn online(ms: vec2<f32>, v: f32) -> vec2<f32> {
  let e = exp(-abs(v - ms.x));
  if (v > ms.x) {
    return vec2<f32>(v, ms.y * e + 1.0);
  }
  return vec2<f32>(ms.x, ms.y + e);
}

fn merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let m = max(a.x, b.x);
  return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// The (max, sum) pair over the workgroup, left in red_a[0], red_b[0] (read after a barrier).
fn reduce_pairs(lid: u32, ms: vec2<f32>) {
  red_a[lid] = ms.x;
  red_b[lid] = ms.y;
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    workgroupBarrier();
    if (lid < w) {
      let r = merge(vec2<f32>(red_a[lid], red_b[lid]), vec2<f32>(red_a[lid + w], red_b[lid + w]));
      red_a[lid] = r.x;
      red_b[lid] = r.y;
    }
  }
  workgroupBarrier();
}

fn reduce_sum(lid: u32, v: f32) {
  red_a[lid] = v;
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    workgroupBarrier();
    if (lid < w) { red_a[lid] += red_a[lid + w]; }
  }
  workgroupBarrier();
}

fn row_of(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

@compute @workgroup_size(WG)
fn softmax_fwd_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= u.rows) { return; }
  let base = row * u.n;
  var ms = vec2<f32>(NEG, 0.0);
  for (var j = 0u; j < u.n; j++) { ms = online(ms, x[base + j]); }
  let inv = 1.0 / ms.y;
  for (var j = 0u; j < u.n; j++) { y[base + j] = exp(x[base + j] - ms.x) * inv; }
}

@compute @workgroup_size(WG)
fn softmax_fwd_wg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_of(wid, nwg);
  if (row >= u.rows) { return; } // uniform across the workgroup: barriers below stay uniform
  let base = row * u.n;
  var ms = vec2<f32>(NEG, 0.0);
  for (var j = lid; j < u.n; j += WG) { ms = online(ms, x[base + j]); }
  reduce_pairs(lid, ms);
  let m = red_a[0];
  let inv = 1.0 / red_b[0];
  for (var j = lid; j < u.n; j += WG) { y[base + j] = exp(x[base + j] - m) * inv; }
}

@compute @workgroup_size(WG)
fn softmax_bwd_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= u.rows) { return; }
  let base = row * u.n;
  var s = 0.0;
  for (var j = 0u; j < u.n; j++) { s += by[base + j] * bdy[base + j]; }
  for (var j = 0u; j < u.n; j++) { bdx[base + j] = by[base + j] * (bdy[base + j] - s); }
}

@compute @workgroup_size(WG)
fn softmax_bwd_wg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_of(wid, nwg);
  if (row >= u.rows) { return; }
  let base = row * u.n;
  var s = 0.0;
  for (var j = lid; j < u.n; j += WG) { s += by[base + j] * bdy[base + j]; }
  reduce_sum(lid, s);
  let total = red_a[0];
  for (var j = lid; j < u.n; j += WG) { bdx[base + j] = by[base + j] * (bdy[base + j] - total); }
}

@compute @workgroup_size(WG)
fn softmax_fwd_wg4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                   @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_of(wid, nwg);
  if (row >= u.rows) { return; }
  let n4 = u.n / 4u;
  let base = row * n4;
  var ms = vec2<f32>(NEG, 0.0);
  for (var j = lid; j < n4; j += WG) {
    let xv = x4[base + j];
    let m = max(ms.x, max(max(xv.x, xv.y), max(xv.z, xv.w)));
    let e = exp(xv - m);
    ms = vec2<f32>(m, ms.y * exp(ms.x - m) + (e.x + e.y) + (e.z + e.w));
  }
  reduce_pairs(lid, ms);
  let m = red_a[0];
  let inv = 1.0 / red_b[0];
  for (var j = lid; j < n4; j += WG) { y4[base + j] = exp(x4[base + j] - m) * inv; }
}

@compute @workgroup_size(WG)
fn softmax_bwd_wg4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                   @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_of(wid, nwg);
  if (row >= u.rows) { return; }
  let n4 = u.n / 4u;
  let base = row * n4;
  var s = 0.0;
  for (var j = lid; j < n4; j += WG) { s += dot(by4[base + j], bdy4[base + j]); }
  reduce_sum(lid, s);
  let total = red_a[0];
  for (var j = lid; j < n4; j += WG) { bdx4[base + j] = by4[base + j] * (bdy4[base + j] - total); }
}
