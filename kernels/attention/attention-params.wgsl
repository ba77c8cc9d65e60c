// What the two attention kernel files share (attention.wgsl and attention-subgroup.wgsl each
// `// #include` it): the per-call Dims uniform, which attention.ts packs once for either, the
// bindings (same slots in both files, so one launcher binds both), the query-row indexing, and
// the forward's key/value loads, which also read a 16-bit KV cache.

const NEG: f32 = -3.4e38;  // no Inf literal in WGSL

struct Dims {
  B: u32,
  T: u32,
  S: u32,
  H: u32,
  HKV: u32,
  G: u32,      // H / HKV
  scale: f32,
  n: u32,      // attention_bwd_delta: B * T * H rows
  mask: u32,   // 0 no key mask, 1 integer mask (nonzero = attend), 2 f32 mask (!= 0)
  // A bound read at run time so loops stay rolled and one pipeline serves several shapes:
  // attention_bwd_delta: D4; the subgroup kernels: R (rows per lane group).
  aux: u32,
}

@group(0) @binding(0) var<uniform> u: Dims;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> key_mask: array<u32>;
// attention_fwd
@group(0) @binding(5) var<storage, read_write> o: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;
// attention_bwd_dq, attention_bwd_dkdv
@group(0) @binding(5) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read> dout: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dq: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dk: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> dv: array<vec4<f32>>;
// attention_fwd with 16-bit keys/values (KV_DTYPE 1 bf16, 2 f16: a sampling KV cache), four values
// per vec2<u32>, the lower-addressed in the low half. With f32 K/V the launcher binds k and v here
// too (never read); the forward's 8 storage bindings are WebGPU's default per-stage limit.
override KV_DTYPE: u32 = 0u;
@group(0) @binding(7) var<storage, read> kh: array<vec2<u32>>;
@group(0) @binding(8) var<storage, read> vh: array<vec2<u32>>;

// Four 16-bit floats as f32, exactly (bf16 is the top half of an f32; f16 widens without rounding).
fn unpack_kv4(w: vec2<u32>) -> vec4<f32> {
  if (KV_DTYPE == 1u) {
    return vec4<f32>(bitcast<f32>(w.x << 16u), bitcast<f32>(w.x & 0xffff0000u),
                     bitcast<f32>(w.y << 16u), bitcast<f32>(w.y & 0xffff0000u));
  }
  return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
}

// vec4 i of K / V in the forward, whatever their storage; accumulation stays f32.
fn load_k(i: u32) -> vec4<f32> {
  if (KV_DTYPE != 0u) { return unpack_kv4(kh[i]); }
  return k[i];
}

fn load_v(i: u32) -> vec4<f32> {
  if (KV_DTYPE != 0u) { return unpack_kv4(vh[i]); }
  return v[i];
}

// Query row i of kv head kvh enumerates (t, g) as i = t * G + g: returns its row in q/o/dO and
// its index in lse/stats.
fn query_row(b: u32, kvh: u32, i: u32) -> vec2<u32> {
  let t = i / u.G;
  let h = kvh * u.G + i % u.G;
  return vec2<u32>((b * u.T + t) * u.H + h, (b * u.H + h) * u.T + t);
}
