// Sampling's per-position pick, so a denoising step reads back (token, confidence) per position
// instead of full logits: optional classifier-free guidance l = u + (cfg + 1)(c - u) (LLaDA
// generate.py), suppressed ids (LLaDA logits_eos_inf) get logit -3.4e38, prediction = argmax of
// l / T + Gumbel noise (T > 0; the log-space form of LLaDA's exp(l) / (-log u)^T), confidence =
// the noise-free softmax probability of the prediction. One workgroup per row; each invocation
// strides over the vocabulary keeping (best score, its id) and an online (max, sum-exp), then a
// workgroup tree reduction merges them in a fixed order (deterministic; ties -> lower id).
// Gumbel noise: Philox uniform of (seed, stream, row * V + v), u' = (u + 0.5 * 2^-24) in (0, 1).

override WG: u32 = 64u;

struct Params {
  V: u32,
  rows: u32,
  uncond_off: u32, // row offset of the unconditional logits (CFG), 0 = no CFG
  noise: u32, // 1 = add Gumbel noise
  cfg: f32,
  inv_temp: f32,
  n_suppress: u32,
  _pad: u32,
  seed: vec2<u32>,
  stream: vec2<u32>,
  suppress: vec4<u32>,
}

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // (rows, 2): token, confidence

var<workgroup> sb: array<f32, WG>; // best score
var<workgroup> si: array<u32, WG>; // best id
var<workgroup> sm: array<f32, WG>; // running max of l
var<workgroup> ss: array<f32, WG>; // sum exp(l - max)
var<workgroup> sl: array<f32, WG>; // l at best id

fn logit(row: u32, v: u32) -> f32 {
  var l = logits[row * u.V + v];
  if (u.uncond_off > 0u) {
    let un = logits[(row + u.uncond_off) * u.V + v];
    l = un + (u.cfg + 1.0) * (l - un);
  }
  for (var k = 0u; k < u.n_suppress; k++) {
    if (v == u.suppress[k]) { l = -3.4e38; }
  }
  return l;
}

@compute @workgroup_size(WG)
fn pick(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  let t = lid.x;
  var best = -3.4e38;
  var best_id = 0xffffffffu;
  var best_l = -3.4e38;
  var m = -3.4e38;
  var s = 0.0;
  if (row < u.rows) {
    for (var v = t; v < u.V; v += WG) {
      let l = logit(row, v);
      var score = l;
      if (u.noise == 1u) {
        let r = philox_u32(u.seed, u.stream, row * u.V + v);
        let uu = (f32(r >> 8u) + 0.5) * 5.9604644775390625e-8;
        score = l * u.inv_temp - log(-log(uu));
      }
      if (score > best) { best = score; best_id = v; best_l = l; }
      if (l > m) { s = s * exp(m - l) + 1.0; m = l; } else { s += exp(l - m); }
    }
  }
  sb[t] = best; si[t] = best_id; sm[t] = m; ss[t] = s; sl[t] = best_l;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (t < w) {
      let ob = sb[t + w];
      let oi = si[t + w];
      if (ob > sb[t] || (ob == sb[t] && oi < si[t])) { sb[t] = ob; si[t] = oi; sl[t] = sl[t + w]; }
      let m2 = sm[t + w];
      let mm = max(sm[t], m2);
      ss[t] = ss[t] * exp(sm[t] - mm) + ss[t + w] * exp(m2 - mm);
      sm[t] = mm;
    }
    workgroupBarrier();
  }
  if (t == 0u && row < u.rows) {
    out[row * 2u] = f32(si[0]);
    out[row * 2u + 1u] = exp(sl[0] - sm[0]) / ss[0];
  }
}

// #include "../rng/philox.wgsl"
