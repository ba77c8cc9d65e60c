// Fused grouped-query attention, subgroup path for adapters whose subgroups are the SIMD lanes of
// a CPU (llvmpipe: 8 lanes of AVX2). Same algorithms, layouts and bindings as attention.wgsl (read
// its header; both include attention-params.wgsl); only the split of work differs. A workgroup is one subgroup of SG lanes, cut into
// SG / LPR groups of LPR lanes. The lanes of a group share R rows (queries in fwd/dq, keys in dkdv)
// and split the head dim: lane li owns vec4 chunks li, li + LPR, ... (NC of them). Per partner row
// (a key in fwd/dq, a query in dkdv) each lane loads only its own chunks, so every element is
// loaded once per workgroup and reused by R rows; lane-varying loads are what costs on llvmpipe
// (each becomes a per-lane scalar loop). The R partial dot products are finished by a reduce-scatter of
// subgroupShuffleXor (a register permute each), after which each lane owns R / LPR rows and runs
// their softmax math once, not once per lane; subgroupShuffle hands the resulting weights back.
// Why not the matmul design (lanes own rows, partner rows shuffled in, head dim unrolled):
// llvmpipe expands every lane-varying load into 32 bounds-checked scalar branches and LLVM's
// compile time grows superlinearly with their count (4-50 s per kernel at D = 32-64). Here the
// partner loop is rolled with 2 * NC load sites, and the once-per-workgroup loads and stores sit in
// loops bounded by a uniform (u.aux == R) so they stay rolled too: about a second per kernel.
// The R loops must unroll (Mesa decides; R * NC <= 16 measured) or the row arrays get indexed
// dynamically, which llvmpipe does with per-lane gathers; the launcher picks R accordingly.
enable subgroups;

override SG: u32 = 8u;   // subgroup size == workgroup size
override LPR: u32 = 8u;  // lanes per row: a power of two dividing SG
override NC: u32 = 1u;   // vec4 chunks per lane: head dim / 4 == NC * LPR (<= MAXNC)
override R: u32 = 8u;    // rows per group, a multiple of LPR
const MAXR: u32 = 16u;
const MAXNC: u32 = 4u;
const MAXRN: u32 = 32u;  // R * NC

fn key_on(b: u32, s: u32) -> bool {
  if (u.mask == 0u) { return s < u.S; }
  let m = key_mask[b * u.S + min(s, u.S - 1u)];
  return s < u.S && select(m != 0u, bitcast<f32>(m) != 0.0, u.mask == 2u);
}

// Reduce-scatter over the LPR lanes of a group: x[r] holds this lane's partial for row r < R;
// afterwards x[i] (i < R / LPR) holds the group's total for row li * (R / LPR) + i. log2(LPR)
// stages of subgroupShuffleXor, each halving the values a lane keeps: R - R / LPR shuffles in all,
// against R * log2(LPR) for a butterfly per row, and the row math after it runs once per row
// instead of once per lane.
fn rs_stage(x: ptr<function, array<vec2<f32>, MAXR>>, li: u32, m: u32, w: u32) {
  let up = (li & m) != 0u;
  for (var i = 0u; i < w; i++) {
    let lo = (*x)[i];
    let hi = (*x)[i + w];
    (*x)[i] = select(lo, hi, up) + subgroupShuffleXor(select(hi, lo, up), m);
  }
}

fn reduce_scatter(x: ptr<function, array<vec2<f32>, MAXR>>, li: u32) {
  if (LPR > 8u) { rs_stage(x, li, 8u, R * 8u / LPR); }
  if (LPR > 4u) { rs_stage(x, li, 4u, R * 4u / LPR); }
  if (LPR > 2u) { rs_stage(x, li, 2u, R * 2u / LPR); }
  if (LPR > 1u) { rs_stage(x, li, 1u, R / LPR); }
}

fn rs_stage1(x: ptr<function, array<f32, MAXR>>, li: u32, m: u32, w: u32) {
  let up = (li & m) != 0u;
  for (var i = 0u; i < w; i++) {
    let lo = (*x)[i];
    let hi = (*x)[i + w];
    (*x)[i] = select(lo, hi, up) + subgroupShuffleXor(select(hi, lo, up), m);
  }
}

fn reduce_scatter1(x: ptr<function, array<f32, MAXR>>, li: u32) {
  if (LPR > 8u) { rs_stage1(x, li, 8u, R * 8u / LPR); }
  if (LPR > 4u) { rs_stage1(x, li, 4u, R * 4u / LPR); }
  if (LPR > 2u) { rs_stage1(x, li, 2u, R * 2u / LPR); }
  if (LPR > 1u) { rs_stage1(x, li, 1u, R / LPR); }
}

// The value lane `li * (R / LPR) + i` of this lane's group computed for row r (i = r % (R / LPR)).
fn from_owner(x: f32, r: u32, gi: u32) -> f32 {
  return subgroupShuffle(x, gi * LPR + r / (R / LPR));
}

// Row r of this workgroup's block for group gi: rows (wid.x * R + r) * (SG / LPR) + gi.
fn block_row(wx: u32, r: u32, gi: u32) -> u32 {
  return (wx * R + r) * (SG / LPR) + gi;
}

@compute @workgroup_size(SG)
fn attention_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let kvh = wid.y;
  let b = wid.z;
  let gi = lane / LPR;
  let li = lane % LPR;
  let D4 = NC * LPR;
  let RPL = R / LPR;
  let nrows = u.G * u.T;
  var qr: array<vec4<f32>, MAXRN>;
  var acc: array<vec4<f32>, MAXRN>;
  var sc: array<f32, MAXR>;
  var m: array<f32, MAXR>;   // online max, sum, and this key's (rescale, weight) of owned rows
  var l: array<f32, MAXR>;
  var al: array<f32, MAXR>;
  var pr: array<f32, MAXR>;
  var kc: array<vec4<f32>, MAXNC>;
  var vc: array<vec4<f32>, MAXNC>;
  for (var r = 0u; r < u.aux; r++) {
    let row = query_row(b, kvh, min(block_row(wid.x, r, gi), nrows - 1u));
    for (var n = 0u; n < NC; n++) {
      qr[r * NC + n] = q[row.x * D4 + n * LPR + li] * u.scale;
      acc[r * NC + n] = vec4<f32>(0.0);
    }
  }
  for (var i = 0u; i < RPL; i++) {
    m[i] = NEG;
    l[i] = 0.0;
  }
  for (var s = 0u; s < u.S; s++) {
    let on = key_on(b, s);
    let kb = ((b * u.S + s) * u.HKV + kvh) * D4 + li;
    for (var n = 0u; n < NC; n++) {
      kc[n] = load_k(kb + n * LPR);
      vc[n] = load_v(kb + n * LPR);
    }
    for (var r = 0u; r < R; r++) {
      var part = 0.0;
      for (var n = 0u; n < NC; n++) { part += dot(qr[r * NC + n], kc[n]); }
      sc[r] = part;
    }
    reduce_scatter1(&sc, li);
    for (var i = 0u; i < RPL; i++) {
      // Online softmax with one exp per key: the larger of (z, m) gets weight 1, the other
      // exp(-|z - m|) (Milakov & Gimelshein 2018). Masked keys leave the state unchanged.
      let z = sc[i];
      let e = exp(-abs(z - m[i]));
      let up = z > m[i];
      al[i] = select(1.0, select(1.0, e, up), on);
      pr[i] = select(0.0, select(e, 1.0, up), on);
      m[i] = select(m[i], max(m[i], z), on);
      l[i] = l[i] * al[i] + pr[i];
    }
    for (var r = 0u; r < R; r++) {
      let alpha = from_owner(al[r % RPL], r, gi);
      let p = from_owner(pr[r % RPL], r, gi);
      for (var n = 0u; n < NC; n++) { acc[r * NC + n] = acc[r * NC + n] * alpha + p * vc[n]; }
    }
  }
  for (var i = 0u; i < RPL; i++) {
    let ri = block_row(wid.x, li * RPL + i, gi);
    if (ri < nrows) { lse[query_row(b, kvh, ri).y] = select(0.0, m[i] + log(l[i]), l[i] > 0.0); }
    al[i] = select(0.0, 1.0 / l[i], l[i] > 0.0);
  }
  for (var r = 0u; r < u.aux; r++) {
    let inv = from_owner(al[r % RPL], r, gi);
    let ri = block_row(wid.x, r, gi);
    if (ri < nrows) {
      let row = query_row(b, kvh, ri);
      for (var n = 0u; n < NC; n++) { o[row.x * D4 + n * LPR + li] = acc[r * NC + n] * inv; }
    }
  }
}

@compute @workgroup_size(SG)
fn attention_bwd_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let kvh = wid.y;
  let b = wid.z;
  let gi = lane / LPR;
  let li = lane % LPR;
  let D4 = NC * LPR;
  let RPL = R / LPR;
  let nrows = u.G * u.T;
  var qr: array<vec4<f32>, MAXRN>;
  var dor: array<vec4<f32>, MAXRN>;
  var acc: array<vec4<f32>, MAXRN>;
  var x: array<vec2<f32>, MAXR>;
  var st: array<vec2<f32>, MAXR>; // (lse, delta) of owned rows
  var ds: array<f32, MAXR>;
  var kc: array<vec4<f32>, MAXNC>;
  var vc: array<vec4<f32>, MAXNC>;
  for (var r = 0u; r < u.aux; r++) {
    let row = query_row(b, kvh, min(block_row(wid.x, r, gi), nrows - 1u));
    for (var n = 0u; n < NC; n++) {
      qr[r * NC + n] = q[row.x * D4 + n * LPR + li] * u.scale;
      dor[r * NC + n] = dout[row.x * D4 + n * LPR + li];
      acc[r * NC + n] = vec4<f32>(0.0);
    }
  }
  for (var i = 0u; i < RPL; i++) {
    st[i] = stats[query_row(b, kvh, min(block_row(wid.x, li * RPL + i, gi), nrows - 1u)).y];
  }
  for (var s = 0u; s < u.S; s++) {
    let on = key_on(b, s);
    let kb = ((b * u.S + s) * u.HKV + kvh) * D4 + li;
    for (var n = 0u; n < NC; n++) {
      kc[n] = k[kb + n * LPR];
      vc[n] = v[kb + n * LPR];
    }
    for (var r = 0u; r < R; r++) {
      var part = vec2<f32>(0.0);
      for (var n = 0u; n < NC; n++) {
        part += vec2<f32>(dot(qr[r * NC + n], kc[n]), dot(dor[r * NC + n], vc[n]));
      }
      x[r] = part;
    }
    reduce_scatter(&x, li); // (score, dP) of owned rows
    for (var i = 0u; i < RPL; i++) {
      ds[i] = select(0.0, exp(x[i].x - st[i].x) * (x[i].y - st[i].y), on);
    }
    for (var r = 0u; r < R; r++) {
      let d = from_owner(ds[r % RPL], r, gi);
      for (var n = 0u; n < NC; n++) { acc[r * NC + n] += d * kc[n]; }
    }
  }
  for (var r = 0u; r < u.aux; r++) {
    let ri = block_row(wid.x, r, gi);
    if (ri < nrows) {
      let row = query_row(b, kvh, ri);
      for (var n = 0u; n < NC; n++) { dq[row.x * D4 + n * LPR + li] = acc[r * NC + n] * u.scale; }
    }
  }
}

@compute @workgroup_size(SG)
fn attention_bwd_dkdv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let kvh = wid.y;
  let b = wid.z;
  let gi = lane / LPR;
  let li = lane % LPR;
  let D4 = NC * LPR;
  let RPL = R / LPR;
  let nrows = u.G * u.T;
  var kr: array<vec4<f32>, MAXRN>;
  var vr: array<vec4<f32>, MAXRN>;
  var gk: array<vec4<f32>, MAXRN>;
  var gv: array<vec4<f32>, MAXRN>;
  var x: array<vec2<f32>, MAXR>;
  var kon: array<bool, MAXR>; // owned keys
  var pr: array<f32, MAXR>;
  var ds: array<f32, MAXR>;
  var qc: array<vec4<f32>, MAXNC>;
  var dc: array<vec4<f32>, MAXNC>;
  for (var r = 0u; r < u.aux; r++) {
    let kb = ((b * u.S + min(block_row(wid.x, r, gi), u.S - 1u)) * u.HKV + kvh) * D4 + li;
    for (var n = 0u; n < NC; n++) {
      kr[r * NC + n] = k[kb + n * LPR];
      vr[r * NC + n] = v[kb + n * LPR];
      gk[r * NC + n] = vec4<f32>(0.0);
      gv[r * NC + n] = vec4<f32>(0.0);
    }
  }
  for (var i = 0u; i < RPL; i++) {
    kon[i] = key_on(b, block_row(wid.x, li * RPL + i, gi)); // masked: zero gradient
  }
  for (var qi = 0u; qi < nrows; qi++) {
    let row = query_row(b, kvh, qi);
    let st = stats[row.y];
    let qb = row.x * D4 + li;
    for (var n = 0u; n < NC; n++) {
      qc[n] = q[qb + n * LPR] * u.scale;
      dc[n] = dout[qb + n * LPR];
    }
    for (var r = 0u; r < R; r++) {
      var part = vec2<f32>(0.0);
      for (var n = 0u; n < NC; n++) {
        part += vec2<f32>(dot(kr[r * NC + n], qc[n]), dot(vr[r * NC + n], dc[n]));
      }
      x[r] = part;
    }
    reduce_scatter(&x, li); // (score, dP) of owned keys
    for (var i = 0u; i < RPL; i++) {
      pr[i] = select(0.0, exp(x[i].x - st.x), kon[i]);
      ds[i] = pr[i] * (x[i].y - st.y);
    }
    for (var r = 0u; r < R; r++) {
      let p = from_owner(pr[r % RPL], r, gi);
      let d = from_owner(ds[r % RPL], r, gi);
      for (var n = 0u; n < NC; n++) {
        gv[r * NC + n] += p * dc[n];
        gk[r * NC + n] += d * qc[n];
      }
    }
  }
  for (var r = 0u; r < u.aux; r++) {
    let sr = block_row(wid.x, r, gi);
    if (sr < u.S) {
      let kb = ((b * u.S + sr) * u.HKV + kvh) * D4 + li;
      for (var n = 0u; n < NC; n++) {
        dk[kb + n * LPR] = gk[r * NC + n];
        dv[kb + n * LPR] = gv[r * NC + n];
      }
    }
  }
}

// #include "attention-params.wgsl"
