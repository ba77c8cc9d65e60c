// Embedding lookup and its deterministic backward (LLaDA's wte, GSAI-ML/LLaDA modeling_llada.py:
// x = self.transformer.wte(input_ids)). out[t, :] = table[clamp(ids[t], 0, V - 1), :]: an id out
// of range reads the nearest valid row instead of out of bounds (the model checks ids on the host;
// the clamp only keeps a bad id from reading foreign memory). The backward agrees: a clamped id's
// gradient goes to the row it read.
// Backward without float atomics, by row ownership: every element of d_table is written by exactly
// one invocation, which sums its tokens' dy in increasing token order.
//   embedding_bwd_csr: rows listed in a host-built CSR (unique ids, start offsets, token positions
//     grouped by id); workgroup (u, channel block), one channel per invocation. O(N * C) work.
//     Rows not listed keep the zeros the launcher cleared.
//   embedding_bwd_scan: no host copy of the ids: workgroup (v, channel block) for every table row
//     scans all N ids. O(V * N * C / WG) id reads: correct everywhere, slow for big vocabularies.
// Channels are consecutive invocations (coalesced on GPUs); the id each workgroup matches is
// uniform across it. Every entry point has a *4 twin that moves a vec4 of channels per invocation
// when C % 4 == 0 (on llvmpipe the forward ran ~5x faster that way); `cu` is the number of
// channel units per row, C or C / 4. Not here: sparse gradients, padding_idx, max_norm.
// A 16-bit table (bf16 or f16, TABLE_DTYPE 1 or 2: LLaDA ships bf16) is gathered by
// embedding_fwd_h / embedding_fwd_h4, decoded to f32 exactly; such a table is frozen (no backward),
// also bound in row ranges (a range starts on a 4-byte boundary: the launcher keeps row0 * C even).
// A table larger than one storage binding is bound in row ranges [row0, row0 + rows): each entry
// point touches only the rows of its range (indices into the bound range are row - row0), and the
// launcher dispatches once per range. ACCUMULATE: the backward adds into d_table (a parameter's
// gradient buffer) instead of overwriting it.

override WG: u32 = 64u;
override TABLE_DTYPE: u32 = 1u; // the *_h entries: 1 bf16, 2 f16
override ACCUMULATE: bool = false;

struct Params {
  n: u32,       // tokens N
  cu: u32,      // channel units per row: C (scalar entries) or C / 4 (vec4 entries)
  v: u32,       // table rows V
  units: u32,   // rows the backward grid covers: unique ids (csr) or table rows (scan) of the range
  cblocks: u32, // ceil(cu / WG)
  row0: u32,    // first table row of the bound range
  rows: u32,    // rows in the bound range
  q0: u32,      // csr: first unique id of the range
  n_unique: u32, // csr: unique ids U in all
}

@group(0) @binding(0) var<uniform> u: Params;

fn row_of(id: i32) -> u32 {
  return u32(clamp(id, 0, i32(u.v) - 1));
}

// Index of the chunk-local row of id, or rows when the id's row lies outside the bound range.
fn local_row(id: i32) -> u32 {
  let r = row_of(id);
  if (r < u.row0 || r >= u.row0 + u.rows) {
    return u.rows;
  }
  return r - u.row0;
}

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// Backward grid: workgroup (row unit q, channel block), one channel unit j per invocation.
fn unit_and_channel(lid: u32, wid: vec3<u32>, nwg: vec3<u32>) -> vec2<u32> {
  let w = wid.x + wid.y * nwg.x;
  let q = w / u.cblocks;
  return vec2<u32>(q, (w - q * u.cblocks) * WG + lid);
}

// ---- forward: out[t, j] = table[row_of(ids[t]), j]

@group(0) @binding(1) var<storage, read> ids: array<i32>;        // (N)
@group(0) @binding(2) var<storage, read> table: array<f32>;      // (V, C)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // (N, C)

@compute @workgroup_size(WG)
fn embedding_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flat(gid, nwg);
  if (k >= u.n * u.cu) {
    return;
  }
  let t = k / u.cu;
  let r = local_row(ids[t]);
  if (r < u.rows) {
    out[k] = table[r * u.cu + (k - t * u.cu)];
  }
}

@group(0) @binding(2) var<storage, read> table4: array<vec4<f32>>;     // (V, C/4)
@group(0) @binding(3) var<storage, read_write> out4: array<vec4<f32>>; // (N, C/4)

@compute @workgroup_size(WG)
fn embedding_fwd4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flat(gid, nwg);
  if (k >= u.n * u.cu) {
    return;
  }
  let t = k / u.cu;
  let r = local_row(ids[t]);
  if (r < u.rows) {
    out4[k] = table4[r * u.cu + (k - t * u.cu)];
  }
}

// ---- forward from a 16-bit table: two values per u32 word, the lower-addressed in the low half.

@group(0) @binding(2) var<storage, read> tableh: array<u32>;    // (V, C) 16-bit, padded to a word
@group(0) @binding(2) var<storage, read> tableh4: array<vec2u>; // (V, C/4) 16-bit

// bf16 is the top half of an f32 (widening is a shift); f16 goes through the WGSL builtin.
fn unpack_t2(w: u32) -> vec2f {
  if (TABLE_DTYPE == 1u) {
    return vec2f(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u));
  }
  return unpack2x16float(w);
}

@compute @workgroup_size(WG)
fn embedding_fwd_h(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flat(gid, nwg);
  if (k >= u.n * u.cu) {
    return;
  }
  let t = k / u.cu;
  let r = local_row(ids[t]);
  if (r < u.rows) {
    let e = r * u.cu + (k - t * u.cu);
    let v = unpack_t2(tableh[e / 2u]);
    out[k] = select(v.x, v.y, (e & 1u) == 1u);
  }
}

@compute @workgroup_size(WG)
fn embedding_fwd_h4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flat(gid, nwg);
  if (k >= u.n * u.cu) {
    return;
  }
  let t = k / u.cu;
  let r = local_row(ids[t]);
  if (r < u.rows) {
    let w = tableh4[r * u.cu + (k - t * u.cu)];
    out4[k] = vec4<f32>(unpack_t2(w.x), unpack_t2(w.y));
  }
}

// ---- backward with the host CSR = [uniq (U) | start (U + 1) | pos (N)]: the tokens of uniq[q]
// are pos[start[q] .. start[q + 1]), ascending. d_table is zeroed by the launcher.

@group(0) @binding(1) var<storage, read> csr: array<i32>;
@group(0) @binding(2) var<storage, read> cdy: array<f32>;        // (N, C)
@group(0) @binding(3) var<storage, read_write> cdt: array<f32>;  // (V, C)

@compute @workgroup_size(WG)
fn embedding_bwd_csr(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>) {
  var qj = unit_and_channel(lid, wid, nwg);
  if (qj.x >= u.units || qj.y >= u.cu) {
    return;
  }
  qj.x += u.q0;
  let p0 = 2u * u.n_unique + 1u;
  var acc = 0.0;
  let k1 = u32(csr[u.n_unique + qj.x + 1u]);
  for (var k = u32(csr[u.n_unique + qj.x]); k < k1; k++) {
    acc += cdy[u32(csr[p0 + k]) * u.cu + qj.y];
  }
  let at = (u32(csr[qj.x]) - u.row0) * u.cu + qj.y;
  if (ACCUMULATE) {
    acc += cdt[at];
  }
  cdt[at] = acc;
}

@group(0) @binding(2) var<storage, read> cdy4: array<vec4<f32>>;       // (N, C/4)
@group(0) @binding(3) var<storage, read_write> cdt4: array<vec4<f32>>; // (V, C/4)

@compute @workgroup_size(WG)
fn embedding_bwd_csr4(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>) {
  var qj = unit_and_channel(lid, wid, nwg);
  if (qj.x >= u.units || qj.y >= u.cu) {
    return;
  }
  qj.x += u.q0;
  let p0 = 2u * u.n_unique + 1u;
  var acc = vec4<f32>(0.0);
  let k1 = u32(csr[u.n_unique + qj.x + 1u]);
  for (var k = u32(csr[u.n_unique + qj.x]); k < k1; k++) {
    acc += cdy4[u32(csr[p0 + k]) * u.cu + qj.y];
  }
  let at = (u32(csr[qj.x]) - u.row0) * u.cu + qj.y;
  if (ACCUMULATE) {
    acc += cdt4[at];
  }
  cdt4[at] = acc;
}

// ---- backward without the host copy: every table row v scans all N ids.

@compute @workgroup_size(WG)
fn embedding_bwd_scan(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>) {
  let vj = unit_and_channel(lid, wid, nwg);
  if (vj.x >= u.units || vj.y >= u.cu) {
    return;
  }
  var acc = 0.0;
  for (var t = 0u; t < u.n; t++) {
    if (row_of(ids[t]) == u.row0 + vj.x) {
      acc += cdy[t * u.cu + vj.y];
    }
  }
  let at = vj.x * u.cu + vj.y;
  if (ACCUMULATE) {
    acc += cdt[at];
  }
  cdt[at] = acc;
}

@compute @workgroup_size(WG)
fn embedding_bwd_scan4(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
                       @builtin(num_workgroups) nwg: vec3<u32>) {
  let vj = unit_and_channel(lid, wid, nwg);
  if (vj.x >= u.units || vj.y >= u.cu) {
    return;
  }
  var acc = vec4<f32>(0.0);
  for (var t = 0u; t < u.n; t++) {
    if (row_of(ids[t]) == u.row0 + vj.x) {
      acc += cdy4[t * u.cu + vj.y];
    }
  }
  let at = vj.x * u.cu + vj.y;
  if (ACCUMULATE) {
    acc += cdt4[at];
  }
  cdt4[at] = acc;
}
