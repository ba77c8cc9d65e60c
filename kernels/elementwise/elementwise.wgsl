// Elementwise ops. `binary`: out = a OP b with NumPy broadcasting over up to 4 dims (strides of 0
// for broadcast dims). `unary`: out = f(x). `axpy`: y += alpha * x in place (gradient
// accumulation). Index folding: the grid may be 2-D when n exceeds 65535 workgroups.
// `binary4` / `axpy4`: the same without broadcasting, 4 floats per invocation (n % 4 == 0; u.n then
// counts vec4s). One vec4 load where the scalar entry points make four: on CPU adapters (lavapipe)
// each load whose address differs between lanes is a loop over the lanes, so this runs the
// residual adds and gradient accumulations of a training step about 3x faster; on GPUs it is the
// usual 16-byte access.

override OP: u32 = 0u; // binary: 0 add, 1 sub, 2 mul, 3 div | unary: 0 scale(alpha*x+beta), 1 exp, 2 log, 3 neg, 4 sqrt, 5 rsqrt, 6 square, 7 relu, 8 silu
override WG: u32 = 64u;
override BROADCAST: bool = true;

struct Params {
  n: u32,
  alpha: f32,
  beta: f32,
  _pad: u32,
  shape: vec4<u32>,
  sa: vec4<u32>,
  sb: vec4<u32>,
}

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn binary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= u.n) { return; }
  var ia = i;
  var ib = i;
  if (BROADCAST) {
    var r = i;
    ia = 0u;
    ib = 0u;
    for (var d = 3; d >= 0; d--) {
      let c = r % u.shape[d];
      r = r / u.shape[d];
      ia += c * u.sa[d];
      ib += c * u.sb[d];
    }
  }
  let x = a[ia];
  let y = b[ib];
  var z: f32;
  switch OP {
    case 0u: { z = x + y; }
    case 1u: { z = x - y; }
    case 2u: { z = x * y; }
    default: { z = x / y; }
  }
  out[i] = z;
}

@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn binary4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= u.n) { return; }
  let x = a4[i];
  let y = b4[i];
  var z: vec4<f32>;
  switch OP {
    case 0u: { z = x + y; }
    case 1u: { z = x - y; }
    case 2u: { z = x * y; }
    default: { z = x / y; }
  }
  out4[i] = z;
}

@group(0) @binding(0) var<uniform> uu: Params;
@group(0) @binding(1) var<storage, read> ux: array<f32>;
@group(0) @binding(2) var<storage, read_write> uy: array<f32>;

@compute @workgroup_size(WG)
fn unary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= uu.n) { return; }
  let x = ux[i];
  var z: f32;
  switch OP {
    case 0u: { z = uu.alpha * x + uu.beta; }
    case 1u: { z = exp(x); }
    case 2u: { z = log(x); }
    case 3u: { z = -x; }
    case 4u: { z = sqrt(x); }
    case 5u: { z = inverseSqrt(x); }
    case 6u: { z = x * x; }
    case 7u: { z = max(x, 0.0); }
    default: { z = x / (1.0 + exp(-x)); }
  }
  uy[i] = z;
}

// y += alpha * x
@compute @workgroup_size(WG)
fn axpy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= uu.n) { return; }
  uy[i] = uy[i] + uu.alpha * ux[i];
}

@group(0) @binding(1) var<storage, read> ux4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> uy4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn axpy4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= uu.n) { return; }
  uy4[i] = uy4[i] + uu.alpha * ux4[i];
}
