// Reductions over one axis of a tensor viewed as (outer, n, inner): one invocation per output
// element (o, i) walks the n axis. `reduce_axis`: OP 0 sum (times alpha: alpha = 1/n is the mean),
// OP 1 max. `expand_axis`: the backward of sum, out[o, j, i] = alpha * g[o, i].
// `max_bwd`: out[o, j, i] = g[o, i] where x[o, j, i] equals the max, else 0.

override OP: u32 = 0u;
override WG: u32 = 64u;

struct Params {
  outer: u32,
  n: u32,
  inner: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn reduce_axis(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat(gid, nwg);
  if (idx >= u.outer * u.inner) { return; }
  let o = idx / u.inner;
  let i = idx % u.inner;
  let base = o * u.n * u.inner + i;
  if (OP == 0u) {
    var acc = 0.0;
    for (var j = 0u; j < u.n; j++) { acc += x[base + j * u.inner]; }
    y[idx] = acc * u.alpha;
  } else {
    var m = -3.4e38;
    for (var j = 0u; j < u.n; j++) { m = max(m, x[base + j * u.inner]); }
    y[idx] = m;
  }
}

@compute @workgroup_size(WG)
fn expand_axis(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat(gid, nwg);
  if (idx >= u.outer * u.n * u.inner) { return; }
  let i = idx % u.inner;
  let o = idx / (u.n * u.inner);
  y[idx] = u.alpha * x[o * u.inner + i];
}

@group(0) @binding(0) var<uniform> v: Params;
@group(0) @binding(1) var<storage, read> xin: array<f32>;
@group(0) @binding(2) var<storage, read> mx: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> gx: array<f32>;

@compute @workgroup_size(WG)
fn max_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat(gid, nwg);
  if (idx >= v.outer * v.n * v.inner) { return; }
  let i = idx % v.inner;
  let o = idx / (v.n * v.inner);
  let r = o * v.inner + i;
  gx[idx] = select(0.0, g[r], xin[idx] == mx[r]);
}
