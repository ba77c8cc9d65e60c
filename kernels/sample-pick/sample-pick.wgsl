// Sampling's per-position pick, so a denoising step reads back (token, confidence) per position
// instead of full logits: optional classifier-free guidance l = u + (cfg + 1)(c - u) (LLaDA
// generate.py), suppressed ids (LLaDA logits_eos_inf) get logit -3.4e38, prediction = argmax of
// l / T + g (T > 0; the log-space form of LLaDA's exp(l) / (-log u)^T, g Gumbel), confidence =
// the noise-free softmax probability of the prediction. One workgroup per row; each invocation
// strides over pairs of vocabulary ids (one Philox block feeds two) keeping (best score, its id)
// and an online (max, sum-exp), then a workgroup tree reduction merges them in a fixed order
// (deterministic; ties -> lower id).
// Noise keying (kernels/sample-pick/noise-key.ts defines it; the CPU computes the same bits): row r
// belongs to prompt b = r / tq at sequence position start + r % tq; keys[b] = (seed lo, seed hi,
// origin, step) and the Philox counter of vocabulary ids 2j, 2j + 1 is
//   (j, step, position = start + r % tq - origin, (STREAM_TAG.sampling << 24) | block)
// so g is a pure function of (seed, block, step, position, v): never of the batch row, the padding
// or a forward count, and any vocabulary slice can be noised on its own. g = gumbel_of(n) from the
// 53-bit draw (noise.wgsl: float64 fidelity).
// pick_chunk: the same over a vocabulary too large for one binding (the LM head fused with the
// pick): the bound logits are columns [col0, col0 + V) (col0 even, so noise pairs stay whole) of a
// v_total-wide row; each chunk's (best score, id, its logit, max, sum-exp) merges into a per-row
// state in vocabulary order (a tie keeps the earlier, lower id) and the last chunk writes (token,
// confidence). Noise and suppression use vocabulary ids: the result does not depend on chunking.

override WG: u32 = 64u;

struct Params {
  V: u32,
  rows: u32,
  uncond_off: u32, // row offset of the unconditional logits (CFG), 0 = no CFG
  noise: u32, // 1 = add Gumbel noise
  cfg: f32,
  inv_temp: f32,
  n_suppress: u32,
  tq: u32, // logits rows per prompt
  start: u32, // sequence position of each prompt's first logits row
  tag_block: u32, // (STREAM_TAG.sampling << 24) | block
  suppress: vec4<u32>,
  col0: u32, // vocabulary id of logits column 0 (even)
  v_total: u32, // the whole vocabulary
  phase: u32, // pick_chunk: bit 0 = first chunk, bit 1 = last chunk
}

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // (rows, 2): token, confidence
@group(0) @binding(3) var<storage, read> keys: array<vec4<u32>>; // per prompt: seed lo, seed hi, origin, step

var<workgroup> sb: array<f32, WG>; // best score
var<workgroup> si: array<u32, WG>; // best id
var<workgroup> sm: array<f32, WG>; // running max of l
var<workgroup> ss: array<f32, WG>; // sum exp(l - max)
var<workgroup> sl: array<f32, WG>; // l at best id

// Column v of the bound logits (vocabulary id col0 + v).
fn logit(row: u32, v: u32) -> f32 {
  var l = logits[row * u.V + v];
  if (u.uncond_off > 0u) {
    let un = logits[(row + u.uncond_off) * u.V + v];
    l = un + (u.cfg + 1.0) * (l - un);
  }
  for (var k = 0u; k < u.n_suppress; k++) {
    if (u.col0 + v == u.suppress[k]) { l = -3.4e38; }
  }
  return l;
}

// This invocation's running state: best noised score, its id and logit; online max and sum-exp.
var<private> best: f32 = -3.4e38;
var<private> best_id: u32 = 0xffffffffu;
var<private> best_l: f32 = -3.4e38;
var<private> m: f32 = -3.4e38;
var<private> s: f32 = 0.0;

fn visit(v: u32, l: f32, score: f32) {
  if (score > best) { best = score; best_id = v; best_l = l; }
  if (l > m) { s = s * exp(m - l) + 1.0; m = l; } else { s += exp(l - m); }
}

// The workgroup's (best score, id, logit at id, max, sum-exp) of one row, in sb/si/sl/sm/ss[0].
fn scan_row(row: u32, t: u32) {
  let c0 = u.col0;
  if (row < u.rows && u.noise == 0u) {
    for (var v = t; v < u.V; v += WG) {
      let l = logit(row, v);
      visit(c0 + v, l, l);
    }
  } else if (row < u.rows) {
    let key = keys[row / u.tq];
    let position = u.start + row % u.tq - key.z; // wraps for prompt positions: never committed
    for (var j = t; 2u * j < u.V; j += WG) {
      let w = noise_words(key.xy, u.tag_block, key.w, position, c0 / 2u + j);
      let l0 = logit(row, 2u * j);
      visit(c0 + 2u * j, l0, l0 * u.inv_temp + gumbel_of(noise_n(w, 0u)));
      if (2u * j + 1u < u.V) {
        let l1 = logit(row, 2u * j + 1u);
        visit(c0 + 2u * j + 1u, l1, l1 * u.inv_temp + gumbel_of(noise_n(w, 1u)));
      }
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
}

@compute @workgroup_size(WG)
fn pick(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  scan_row(row, lid.x);
  if (lid.x == 0u && row < u.rows) {
    out[row * 2u] = f32(si[0]);
    out[row * 2u + 1u] = exp(sl[0] - sm[0]) / ss[0];
  }
}

// (rows, 2) x vec4: (best score, bitcast id, logit at id, max), (sum-exp, -, -, -).
@group(0) @binding(4) var<storage, read_write> state: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn pick_chunk(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  scan_row(row, lid.x);
  if (lid.x != 0u || row >= u.rows) {
    return;
  }
  var b = sb[0];
  var id = si[0];
  var bl = sl[0];
  var mx = sm[0];
  var se = ss[0];
  if ((u.phase & 1u) == 0u) {
    let a = state[2u * row];
    let a2 = state[2u * row + 1u];
    // Earlier chunks hold lower ids: they keep a tie.
    if (!(b > a.x)) { b = a.x; id = bitcast<u32>(a.y); bl = a.z; }
    let mm = max(a.w, mx);
    se = a2.x * exp(a.w - mm) + se * exp(mx - mm);
    mx = mm;
  }
  if ((u.phase & 2u) != 0u) {
    out[row * 2u] = f32(id);
    out[row * 2u + 1u] = exp(bl - mx) / se;
  } else {
    state[2u * row] = vec4<f32>(b, bitcast<f32>(id), bl, mx);
    state[2u * row + 1u] = vec4<f32>(se, 0.0, 0.0, 0.0);
  }
}

// #include "../rng/philox.wgsl"
// #include "noise.wgsl"
