// Fused softmax cross-entropy over the vocabulary. logits (N, V) row-major, targets (N) i32,
// weights (N) f32. A row is skipped (loss 0, gradient 0, no exp) when its weight is 0 or its target
// is < 0; a supervised row whose target is >= V gets NaN loss and gradient (u.nan_bits: a NaN
// constant expression would be a shader-creation error).
//
// Work split: LANES invocations per row, WG / LANES rows per workgroup. On GPUs LANES is large and
// the lanes combine their partial (max, sum-exp) pairs by a tree in workgroup memory; on CPU
// adapters (llvmpipe) LANES = 1: each invocation owns a row, the 8 lanes of a SIMD group walk 8
// rows side by side, and there is no barrier at all (a barrier is a coroutine switch there).
//
// xent_fwd*: one pass over the row with an online max and sum of exponentials (Milakov & Gimelshein
//   2018, "Online normalizer calculation for softmax"), four elements per step so each step costs
//   one rescale exp plus four: stable for any finite logits (every exp argument is <= 0).
//   Writes rows[i] = w_i * CE_i with CE_i = (m - x[t]) + log(s) (not lse - x[t]: with |x| ~ 1e4
//   rounding lse to f32 would cost ~1e-3 absolute) and stats[i] = (m, log s) for the backward:
//   two floats per row instead of lse alone, so exp((x - m) - log s) stays accurate at |x| ~ 1e4.
// xent_bwd*: dlogits = g * w_i * (exp((x - m) - log s) - onehot(t)), one pass, recomputing exp.
//   PER_ROW: g has one value per row (the per-row op) instead of one for the summed loss.
// Row ranges: logits larger than one binding are bound a range of rows at a time; row0 says where
//   the range starts in the (whole, small) targets, weights, rows, stats and g.
// xent_sum: the sum of the N row losses by one workgroup in a fixed order: deterministic.
// xent_fwd_chunk*: the forward over a vocabulary too large for one binding (or one logits buffer),
//   one chunk of columns [col0, col0 + v) per dispatch: each chunk's (max, sum-exp) is merged into
//   a running per-row (max, sum, target logit) with the same online rescale, and the last chunk
//   writes rows and stats exactly as xent_fwd does. The backward needs no combine: xent_bwd* on a
//   chunk (col0 > 0) gives that chunk's columns of dlogits from the final stats.
// The *4 entry points read the row as vec4 (V % 4 == 0): four floats per load where a load with
// a lane-varying address is the cost (llvmpipe) and 16-byte transactions on GPUs.
// Deliberately no subgroup operations: on GPUs the tree is a small share of a row's work (fwd+bwd
// of 2048 x 32000 ran near DRAM bandwidth on an H200), and with LANES = 1 there is nothing to
// reduce across lanes. No probabilities are stored between the passes.

override WG: u32 = 64u;
override LANES: u32 = 64u; // invocations per row: a power of two dividing WG
override PER_ROW: bool = false;

const NEG = -3.4e38; // "minus infinity": WGSL has no Inf literal

struct Params {
  n: u32, // rows
  v: u32, // columns of the bound logits: the vocabulary, or one chunk of it
  v4: u32, // v / 4 (vec4 entry points)
  nan_bits: u32, // 0x7fc00000
  col0: u32, // vocabulary id of column 0 (0 unless the logits are one chunk of the vocabulary)
  v_total: u32, // the whole vocabulary V (targets >= V are NaN)
  phase: u32, // chunked forward: bit 0 = first chunk, bit 1 = last chunk
  row0: u32, // row of targets, weights, rows, stats and g that bound logits row 0 is (row ranges)
}

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;

var<workgroup> wm: array<f32, WG>;
var<workgroup> ws: array<f32, WG>;

struct Row {
  r: u32, // row of the bound logits, clamped in range
  g: u32, // the same row in targets, weights, rows, stats, g: r + row0
  lane: u32,
  live: bool, // r is a real row
  skip: bool, // no loss and no gradient: dead, weight 0 or ignored target
  w: f32,
  t: i32,
}

fn row_of(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> Row {
  let row = (wid.x + wid.y * nwg.x) * (WG / LANES) + lid / LANES;
  let live = row < u.n;
  let r = min(row, u.n - 1u);
  let w = weights[u.row0 + r];
  let t = targets[u.row0 + r];
  return Row(r, u.row0 + r, lid % LANES, live, !live || w == 0.0 || t < 0, w, t);
}

// Online update with four new values (absent ones are NEG).
fn absorb(ms: vec2<f32>, x: vec4<f32>) -> vec2<f32> {
  let mn = max(ms.x, max(max(x.x, x.y), max(x.z, x.w)));
  let e = exp(x - vec4<f32>(mn));
  return vec2<f32>(mn, ms.y * exp(ms.x - mn) + ((e.x + e.y) + (e.z + e.w)));
}

// Combine the (max, sum) pairs of the LANES lanes of each row; every lane gets the row's total.
fn combine(lid: u32, ms_in: vec2<f32>) -> vec2<f32> {
  if (LANES == 1u) {
    return ms_in;
  }
  var ms = ms_in;
  wm[lid] = ms.x;
  ws[lid] = ms.y;
  for (var stride = LANES / 2u; stride > 0u; stride = stride / 2u) {
    workgroupBarrier();
    if (lid % LANES < stride) {
      let m2 = wm[lid + stride];
      let mn = max(ms.x, m2);
      ms = vec2<f32>(mn, ms.y * exp(ms.x - mn) + ws[lid + stride] * exp(m2 - mn));
      wm[lid] = ms.x;
      ws[lid] = ms.y;
    }
  }
  workgroupBarrier();
  let head = lid - lid % LANES;
  return vec2<f32>(wm[head], ws[head]);
}

// ---- forward ------------------------------------------------------------------------------------

@group(0) @binding(4) var<storage, read_write> rows: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<vec2<f32>>;

fn finish(rw: Row, ms: vec2<f32>, xt: f32) {
  if (!rw.live || rw.lane != 0u) {
    return;
  }
  if (rw.skip) {
    rows[rw.g] = 0.0;
    stats[rw.g] = vec2<f32>(0.0);
    return;
  }
  let ls = log(ms.y);
  var loss = rw.w * ((ms.x - xt) + ls);
  if (rw.t >= i32(u.v_total)) {
    loss = bitcast<f32>(u.nan_bits);
  }
  rows[rw.g] = loss;
  stats[rw.g] = vec2<f32>(ms.x, ls);
}

// The logit of the target, read by lane 0 of a supervised row only.
fn target_index(rw: Row) -> u32 {
  return rw.r * u.v + u32(clamp(rw.t, 0, i32(u.v) - 1));
}

@group(0) @binding(1) var<storage, read> logits: array<f32>;

fn ld(base: u32, j: u32, len: u32) -> f32 {
  return select(NEG, logits[base + min(j, len - 1u)], j < len);
}

@compute @workgroup_size(WG)
fn xent_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let rw = row_of(wid, nwg, lid);
  let len = select(u.v, 0u, rw.skip);
  let base = rw.r * u.v;
  var ms = vec2<f32>(NEG, 0.0);
  for (var j = rw.lane; j < len; j += 4u * LANES) {
    ms = absorb(ms, vec4<f32>(ld(base, j, len), ld(base, j + LANES, len), ld(base, j + 2u * LANES, len),
                              ld(base, j + 3u * LANES, len)));
  }
  ms = combine(lid, ms);
  var xt = 0.0;
  if (!rw.skip && rw.lane == 0u) {
    xt = logits[target_index(rw)];
  }
  finish(rw, ms, xt);
}

@group(0) @binding(1) var<storage, read> logits4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn xent_fwd4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let rw = row_of(wid, nwg, lid);
  let len = select(u.v4, 0u, rw.skip);
  let base = rw.r * u.v4;
  var ms = vec2<f32>(NEG, 0.0);
  for (var j = rw.lane; j < len; j += LANES) {
    ms = absorb(ms, logits4[base + j]);
  }
  ms = combine(lid, ms);
  var xt = 0.0;
  if (!rw.skip && rw.lane == 0u) {
    let k = target_index(rw);
    xt = logits4[k / 4u][k % 4u];
  }
  finish(rw, ms, xt);
}

// ---- forward over vocabulary chunks ------------------------------------------------------------

@group(0) @binding(6) var<storage, read_write> run: array<vec4<f32>>; // (N): max, sum, target logit, -

// Lane 0 of a row merges this chunk's (max, sum) and target logit (0 when the target lies in
// another chunk) into the running state; the last chunk finishes the row.
fn chunk_merge(rw: Row, ms: vec2<f32>, xt: f32) {
  if (!rw.live || rw.lane != 0u) {
    return;
  }
  if (rw.skip) {
    if ((u.phase & 2u) != 0u) {
      finish(rw, ms, xt);
    }
    return;
  }
  var st = vec4<f32>(NEG, 0.0, 0.0, 0.0);
  if ((u.phase & 1u) == 0u) {
    st = run[rw.g];
  }
  let mn = max(st.x, ms.x);
  st = vec4<f32>(mn, st.y * exp(st.x - mn) + ms.y * exp(ms.x - mn), st.z + xt, 0.0);
  if ((u.phase & 2u) != 0u) {
    finish(rw, st.xy, st.z);
  } else {
    run[rw.g] = st;
  }
}

// The target's logit when it lies in this chunk, else 0.
fn chunk_target(rw: Row) -> i32 {
  let j = rw.t - i32(u.col0);
  return select(-1, j, !rw.skip && j >= 0 && j < i32(u.v));
}

@compute @workgroup_size(WG)
fn xent_fwd_chunk(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let rw = row_of(wid, nwg, lid);
  let len = select(u.v, 0u, rw.skip);
  let base = rw.r * u.v;
  var ms = vec2<f32>(NEG, 0.0);
  for (var j = rw.lane; j < len; j += 4u * LANES) {
    ms = absorb(ms, vec4<f32>(ld(base, j, len), ld(base, j + LANES, len), ld(base, j + 2u * LANES, len),
                              ld(base, j + 3u * LANES, len)));
  }
  ms = combine(lid, ms);
  var xt = 0.0;
  let jt = chunk_target(rw);
  if (jt >= 0 && rw.lane == 0u) {
    xt = logits[base + u32(jt)];
  }
  chunk_merge(rw, ms, xt);
}

@compute @workgroup_size(WG)
fn xent_fwd_chunk4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let rw = row_of(wid, nwg, lid);
  let len = select(u.v4, 0u, rw.skip);
  let base = rw.r * u.v4;
  var ms = vec2<f32>(NEG, 0.0);
  for (var j = rw.lane; j < len; j += LANES) {
    ms = absorb(ms, logits4[base + j]);
  }
  ms = combine(lid, ms);
  var xt = 0.0;
  let jt = chunk_target(rw);
  if (jt >= 0 && rw.lane == 0u) {
    let k = rw.r * u.v + u32(jt);
    xt = logits4[k / 4u][k % 4u];
  }
  chunk_merge(rw, ms, xt);
}

// ---- backward -----------------------------------------------------------------------------------

@group(0) @binding(4) var<storage, read> bstats: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read> gout: array<f32>;
@group(0) @binding(6) var<storage, read_write> dlogits: array<f32>;

// g * w_i, or NaN for a supervised row with an out-of-range target.
fn coef(rw: Row) -> f32 {
  let c = gout[select(0u, rw.g, PER_ROW)] * rw.w;
  return select(c, bitcast<f32>(u.nan_bits), rw.t >= i32(u.v_total));
}

@compute @workgroup_size(WG)
fn xent_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let rw = row_of(wid, nwg, lid);
  if (!rw.live) {
    return;
  }
  let base = rw.r * u.v;
  if (rw.skip) {
    for (var j = rw.lane; j < u.v; j += LANES) {
      dlogits[base + j] = 0.0;
    }
    return;
  }
  let st = bstats[rw.g];
  let c = coef(rw);
  let t = u32(rw.t) - u.col0; // wraps past any column when the target is in another chunk
  for (var j = rw.lane; j < u.v; j += LANES) {
    let p = exp((logits[base + j] - st.x) - st.y);
    dlogits[base + j] = c * (p - select(0.0, 1.0, j == t));
  }
}

@group(0) @binding(6) var<storage, read_write> dlogits4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn xent_bwd4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let rw = row_of(wid, nwg, lid);
  if (!rw.live) {
    return;
  }
  let base = rw.r * u.v4;
  if (rw.skip) {
    for (var j = rw.lane; j < u.v4; j += LANES) {
      dlogits4[base + j] = vec4<f32>(0.0);
    }
    return;
  }
  let st = bstats[rw.g];
  let c = coef(rw);
  let t = vec4<u32>(u32(rw.t) - u.col0);
  for (var j = rw.lane; j < u.v4; j += LANES) {
    let p = exp((logits4[base + j] - vec4<f32>(st.x)) - vec4<f32>(st.y));
    let k = vec4<u32>(4u * j) + vec4<u32>(0u, 1u, 2u, 3u);
    dlogits4[base + j] = c * (p - select(vec4<f32>(0.0), vec4<f32>(1.0), k == t));
  }
}

// ---- deterministic sum of the row losses --------------------------------------------------------

@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> total: array<f32>;

@compute @workgroup_size(WG)
fn xent_sum(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < u.n; i += WG) {
    acc += part[i];
  }
  ws[lid] = acc;
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    workgroupBarrier();
    if (lid < stride) {
      ws[lid] = ws[lid] + ws[lid + stride];
    }
  }
  if (lid == 0u) {
    total[0] = ws[0];
  }
}
