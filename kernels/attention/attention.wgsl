// Fused bidirectional grouped-query attention, portable path (no subgroups): every WebGPU adapter.
// Layouts (D4 = head dim / 4, vec4 elements): q, o, dO [B, T, H, D4]; k, v [B, S, HKV, D4];
// lse [B, H, T]; stats [B, H, T] of (lse, delta). Query head h = kvh * G + g reads kv head kvh.
// - attention_fwd: one invocation per query row streams over the keys with the online softmax
//   (FlashAttention, Dao et al. 2022, Alg. 1; one exp per key as in Milakov & Gimelshein 2018);
//   never materialises scores, writes O and the row log-sum-exp.
// - attention_bwd_delta: stats = (lse, rowsum(dO * O)) (FlashAttention-2's D_i, Dao 2023, Alg. 2),
//   packed so the backward kernels read one vec2 per row and stay within 8 storage bindings.
// - attention_bwd_dq: one invocation per query row recomputes P = exp(s - lse) and sums dQ.
// - attention_bwd_dkdv: one invocation per key row sums dK, dV over every query row of every head
//   in its group (deterministic: no atomics).
// - attention_repack: copies (n, din) rows into (n, dout), zero-filling; pads a head dim that is not
//   a multiple of 4 (and unpads results), so every kernel here works on vec4.
// Workgroups hold rows of one (batch, kv head), so on a GPU the key/value loads of a workgroup are
// the same address (broadcast). Fully masked query rows output zeros, store lse = 0 and get zero
// gradient. The subgroup variant for CPU adapters is attention-subgroup.wgsl; the uniform, the
// bindings and query_row are in attention-params.wgsl, shared by both.

override D4: u32 = 4u;     // head dim / 4 (<= MAXD4)
override WG: u32 = 64u;
const MAXD4: u32 = 32u;    // head dim <= 128

fn key_on(i: u32) -> bool {
  if (u.mask == 0u) { return true; }
  let m = key_mask[i];
  return select(m != 0u, bitcast<f32>(m) != 0.0, u.mask == 2u);
}

fn key_row(b: u32, kvh: u32, s: u32) -> u32 {
  return (b * u.S + s) * u.HKV + kvh;
}

@compute @workgroup_size(WG)
fn attention_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let kvh = wid.y;
  let b = wid.z;
  if (gid.x >= u.G * u.T) { return; }
  let row = query_row(b, kvh, gid.x);
  var qr: array<vec4<f32>, MAXD4>;
  var acc: array<vec4<f32>, MAXD4>;
  for (var c = 0u; c < D4; c++) {
    qr[c] = q[row.x * D4 + c] * u.scale;
    acc[c] = vec4<f32>(0.0);
  }
  var m = NEG;
  var l = 0.0;
  for (var s = 0u; s < u.S; s++) {
    if (!key_on(b * u.S + s)) { continue; }
    let kb = key_row(b, kvh, s) * D4;
    var z = 0.0;
    for (var c = 0u; c < D4; c++) { z += dot(qr[c], load_k(kb + c)); }
    // The larger of (z, m) gets weight 1, the other exp(-|z - m|): one exp per key.
    let e = exp(-abs(z - m));
    let up = z > m;
    let alpha = select(1.0, e, up);
    let p = select(e, 1.0, up);
    m = max(m, z);
    l = l * alpha + p;
    for (var c = 0u; c < D4; c++) { acc[c] = acc[c] * alpha + p * load_v(kb + c); }
  }
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var c = 0u; c < D4; c++) { o[row.x * D4 + c] = acc[c] * inv; }
  lse[row.y] = select(0.0, m + log(l), l > 0.0);
}

@compute @workgroup_size(WG)
fn attention_bwd_dq(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let kvh = wid.y;
  let b = wid.z;
  if (gid.x >= u.G * u.T) { return; }
  let row = query_row(b, kvh, gid.x);
  let st = stats[row.y];
  var qr: array<vec4<f32>, MAXD4>;
  var dor: array<vec4<f32>, MAXD4>;
  var acc: array<vec4<f32>, MAXD4>;
  for (var c = 0u; c < D4; c++) {
    qr[c] = q[row.x * D4 + c] * u.scale;
    dor[c] = dout[row.x * D4 + c];
    acc[c] = vec4<f32>(0.0);
  }
  for (var s = 0u; s < u.S; s++) {
    if (!key_on(b * u.S + s)) { continue; }
    let kb = key_row(b, kvh, s) * D4;
    var z = 0.0;
    var dp = 0.0;
    for (var c = 0u; c < D4; c++) {
      z += dot(qr[c], k[kb + c]);
      dp += dot(dor[c], v[kb + c]);
    }
    let ds = exp(z - st.x) * (dp - st.y);
    for (var c = 0u; c < D4; c++) { acc[c] += ds * k[kb + c]; }
  }
  for (var c = 0u; c < D4; c++) { dq[row.x * D4 + c] = acc[c] * u.scale; }
}

@compute @workgroup_size(WG)
fn attention_bwd_dkdv(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let kvh = wid.y;
  let b = wid.z;
  let s = gid.x;
  if (s >= u.S) { return; }
  let kb = key_row(b, kvh, s) * D4;
  var kr: array<vec4<f32>, MAXD4>;
  var vr: array<vec4<f32>, MAXD4>;
  var gk: array<vec4<f32>, MAXD4>;
  var gv: array<vec4<f32>, MAXD4>;
  var qc: array<vec4<f32>, MAXD4>;
  var dc: array<vec4<f32>, MAXD4>;
  for (var c = 0u; c < D4; c++) {
    kr[c] = k[kb + c];
    vr[c] = v[kb + c];
    gk[c] = vec4<f32>(0.0);
    gv[c] = vec4<f32>(0.0);
  }
  // A masked key gets probability 0 from every query: zero gradient, still written.
  let on = key_on(b * u.S + s);
  let nrows = select(0u, u.G * u.T, on);
  for (var i = 0u; i < nrows; i++) {
    let row = query_row(b, kvh, i);
    let st = stats[row.y];
    var z = 0.0;
    var dp = 0.0;
    for (var c = 0u; c < D4; c++) {
      qc[c] = q[row.x * D4 + c] * u.scale;
      dc[c] = dout[row.x * D4 + c];
      z += dot(kr[c], qc[c]);
      dp += dot(vr[c], dc[c]);
    }
    let p = exp(z - st.x);
    let ds = p * (dp - st.y);
    for (var c = 0u; c < D4; c++) {
      gv[c] += p * dc[c];
      gk[c] += ds * qc[c];
    }
  }
  for (var c = 0u; c < D4; c++) {
    dk[kb + c] = gk[c];
    dv[kb + c] = gv[c];
  }
}

// ---- helpers shared with the subgroup path -------------------------------------------------------

@group(0) @binding(1) var<storage, read> dl_do: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dl_o: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> dl_lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> dl_stats: array<vec2<f32>>;

@compute @workgroup_size(WG)
fn attention_bwd_delta(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG; // row of dO/O: (b * T + t) * H + h
  if (r >= u.n) { return; }
  var d = 0.0;
  for (var c = 0u; c < u.aux; c++) { d += dot(dl_do[r * u.aux + c], dl_o[r * u.aux + c]); }
  let h = r % u.H;
  let bt = r / u.H;
  let si = ((bt / u.T) * u.H + h) * u.T + bt % u.T;
  dl_stats[si] = vec2<f32>(dl_lse[si], d);
}

struct Repack {
  n: u32,
  din: u32,
  dout: u32,
}

@group(0) @binding(0) var<uniform> ru: Repack;
@group(0) @binding(1) var<storage, read> rp_src: array<f32>;
@group(0) @binding(2) var<storage, read_write> rp_dst: array<f32>;

@compute @workgroup_size(WG)
fn attention_repack(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= ru.n * ru.dout) { return; }
  let j = i % ru.dout;
  var x = 0.0;
  if (j < ru.din) { x = rp_src[(i / ru.dout) * ru.din + j]; }
  rp_dst[i] = x;
}

// attention_repack_h: the same from 16-bit rows (KV_DTYPE), decoded to f32: 16-bit K/V whose head
// dim needs padding run the f32 kernels on the decoded copy (exact, so the results are the same).
@group(0) @binding(1) var<storage, read> rp_src_h: array<u32>;

@compute @workgroup_size(WG)
fn attention_repack_h(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= ru.n * ru.dout) { return; }
  let j = i % ru.dout;
  var x = 0.0;
  if (j < ru.din) {
    let e = (i / ru.dout) * ru.din + j;
    let w = rp_src_h[e / 2u] >> (16u * (e & 1u));
    x = select(unpack2x16float(w).x, bitcast<f32>(w << 16u), KV_DTYPE == 1u);
  }
  rp_dst[i] = x;
}

// #include "attention-params.wgsl"
