// f32 -> 16-bit float conversion (bf16 or f16, DTYPE 1 or 2) written into rows of a 16-bit tensor:
// dst (B, L, R) 16-bit, two values per u32 word (the lower-addressed in the low half), src
// (B, Tq, R) f32; src row t of batch b lands at dst row start + t. With B = 1, Tq = L, start = 0 it
// converts a whole tensor. Used to write fresh keys/values into a 16-bit KV cache.
// Rounding is to nearest, ties to even, done on the bits with integer arithmetic so every adapter
// gives the same bits (WGSL lets float conversions round either way, and pack2x16float is
// undefined out of f16's range): bf16 as PyTorch's c10 round_to_nearest_even, NaN kept quiet with
// its sign; f16 per IEEE 754-2008 binary16, overflow to +-Inf, tiny values to subnormals or zero.
// Each invocation owns one destination word, so a row that ends mid-word (odd R) never races:
// a word holding one fresh and one old value reads the old half back and rewrites it unchanged.
// Not here: f16/bf16 -> f32 (the readers decode as they load).

override WG: u32 = 64u;
override DTYPE: u32 = 1u; // 1 bf16, 2 f16

struct Params {
  B: u32,
  L: u32,     // dst rows per batch
  Tq: u32,    // src rows per batch
  R: u32,     // elements per row
  start: u32, // first dst row written
  wpb: u32,   // words enumerated per batch (the grid is B * wpb)
}

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;       // f32 bits (B, Tq, R)
@group(0) @binding(2) var<storage, read_write> dst: array<u32>; // 16-bit pairs (B, L, R)

fn bf16_rne(x: u32) -> u32 {
  if ((x & 0x7fffffffu) > 0x7f800000u) { return (x >> 16u) | 0x40u; } // NaN: quiet, sign kept
  return (x + 0x7fffu + ((x >> 16u) & 1u)) >> 16u;
}

fn f16_rne(x: u32) -> u32 {
  let sign = (x >> 16u) & 0x8000u;
  let ex = i32((x >> 23u) & 0xffu);
  var man = x & 0x7fffffu;
  if (ex == 255) { return sign | 0x7c00u | select(0u, 0x200u | (man >> 13u), man != 0u); }
  let e = ex - 112; // binary16 biased exponent: ex - 127 + 15
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; } // below half the smallest subnormal
    man |= 0x800000u;
    let shift = u32(14 - e);
    var h = man >> shift;
    let rem = man & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (h & 1u) == 1u)) { h += 1u; }
    return sign | h;
  }
  var h = (u32(e) << 10u) | (man >> 13u);
  let rem = man & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) == 1u)) { h += 1u; } // a carry may reach Inf: right
  return sign | h;
}

// The new 16 bits of dst element e when its row is being written, else `old`.
fn value_at(e: u32, old: u32) -> u32 {
  let per = u.L * u.R;
  let b = e / per;
  let r = e - b * per;
  let row = r / u.R;
  if (b >= u.B || row < u.start || row >= u.start + u.Tq) { return old; }
  let x = src[(b * u.Tq + row - u.start) * u.R + r % u.R];
  if (DTYPE == 1u) { return bf16_rne(x); }
  return f16_rne(x);
}

@compute @workgroup_size(WG)
fn cast_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= u.B * u.wpb) { return; }
  let b = i / u.wpb;
  let lo = (b * u.L + u.start) * u.R; // this batch's fresh elements [lo, hi)
  let hi = lo + u.Tq * u.R;
  let w = lo / 2u + (i - b * u.wpb);
  if (2u * w >= hi) { return; }
  // A word shared with the previous batch's last fresh element (contiguous rows, odd R) is that
  // batch's: skip it here.
  if (b > 0u && w < (lo - u.L * u.R + u.Tq * u.R + 1u) / 2u) { return; }
  let old = dst[w];
  dst[w] = value_at(2u * w, old & 0xffffu) | (value_at(2u * w + 1u, old >> 16u) << 16u);
}
