// RMSNorm row kernels shared by rmsnorm.wgsl (workgroup or per-invocation row sums) and
// rmsnorm-sg.wgsl (subgroup row sums): both include this file and define WG, LANES and
// `row_sum`, the only part that differs. The uniform is declared here once for both (rmsnorm.ts
// packs it the same way for every entry point). Formulas: see rmsnorm.wgsl's header.

struct Params {
  rows: u32,
  c: u32,
  eps: f32,
  rows_per_chunk: u32, // rmsnorm_bwd_w only (rmsnorm.wgsl)
  chunks: u32,         // rmsnorm_bwd_w_sum only (rmsnorm.wgsl)
}

@group(0) @binding(0) var<uniform> u: Params;

fn row_of(lid: u32, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return (wid.x + wid.y * nwg.x) * (WG / LANES) + lid / LANES;
}

@group(0) @binding(1) var<storage, read> x: array<f32>;       // (rows, C)
@group(0) @binding(2) var<storage, read> w: array<f32>;       // (C)
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // (rows, C)
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>; // (rows)

@compute @workgroup_size(WG)
fn rmsnorm_fwd(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_of(lid, wid, nwg);
  let lane = lid % LANES;
  let live = row < u.rows;
  let base = row * u.c;
  var ss = 0.0;
  if (live) {
    for (var j = lane; j < u.c; j += LANES) {
      let v = x[base + j];
      ss += v * v;
    }
  }
  let total = row_sum(ss, lid);
  if (!live) {
    return;
  }
  let r = inverseSqrt(total / f32(u.c) + u.eps);
  for (var j = lane; j < u.c; j += LANES) {
    y[base + j] = (x[base + j] * r) * w[j];
  }
  if (lane == 0u) {
    rstd[row] = r;
  }
}

@group(0) @binding(1) var<storage, read> bdy: array<f32>;       // (rows, C)
@group(0) @binding(2) var<storage, read> bx: array<f32>;        // (rows, C)
@group(0) @binding(3) var<storage, read> bw: array<f32>;        // (C)
@group(0) @binding(4) var<storage, read> brstd: array<f32>;     // (rows)
@group(0) @binding(5) var<storage, read_write> bdx: array<f32>; // (rows, C)

@compute @workgroup_size(WG)
fn rmsnorm_bwd_x(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_of(lid, wid, nwg);
  let lane = lid % LANES;
  let live = row < u.rows;
  let base = row * u.c;
  var dot = 0.0;
  if (live) {
    for (var j = lane; j < u.c; j += LANES) {
      dot += bw[j] * bdy[base + j] * bx[base + j];
    }
  }
  let total = row_sum(dot, lid);
  if (!live) {
    return;
  }
  let r = brstd[row];
  let k = r * r * total / f32(u.c);
  for (var j = lane; j < u.c; j += LANES) {
    bdx[base + j] = r * (bw[j] * bdy[base + j] - bx[base + j] * k);
  }
}
