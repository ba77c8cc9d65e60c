// Sampling noise on the GPU, for `// #include "noise.wgsl"` beside `// #include "../rng/philox.wgsl"`:
// the keyed 53-bit draws of noise-key.ts (its header defines the keying) and the Gumbel transform
// g = -ln(-ln u) at float64 fidelity in f32 arithmetic (WGSL has no f64).
//
// Why the care: LLaDA's generate.py draws its Gumbel noise in float64 on purpose; low-precision
// Gumbel sampling truncates the noise's tail and lowers diversity (Zheng et al. 2024, "Masked
// diffusion models are secretly time-agnostic masked models and exploit inaccurate categorical
// sampling"). A 24-bit uniform in f32 caps g near 17; here g reaches 37.4, as far as float64's.
//   u = n 2^-54, n = 2k + 1 for the 53-bit draw k: the middle of k's bin on torch.rand's float64
//   grid k 2^-53, never 0 or 1. n travels as two u32 words (hi, lo), n < 2^54.
//   u <  1/2: E = -ln u; u from n's words has relative error ~2^-24 at any size
//   u >= 1/2: E = -ln(1 - w) = 2 atanh(w / (2 - w)) with w = 1 - u = (2^54 - n) 2^-54 formed in
//             integers first (u itself would round to 1 in f32 where the tail lives)
//   g = -ln E, E in [2^-54, 37.4]
// ln_acc is ours (exponent split + atanh series, a few ulp everywhere) rather than the builtin log,
// whose WGSL bound is only absolute (2^-21) near 1 and whose implementations vary by GPU.

const LN2_HI = 0.693138122558593750; // 17 significant bits: e * LN2_HI is exact for |e| < 128
const LN2_LO = 9.0580006145e-06; // ln 2 - LN2_HI
const TWO_M54 = 5.5511151231257827e-17; // 2^-54

/** 2 atanh(s) = ln((1 + s) / (1 - s)) for |s| <= 1/3: odd series to s^15, relative error < 2e-9. */
fn two_atanh(s: f32) -> f32 {
  let z = s * s;
  var p = 1.0 / 15.0;
  p = p * z + 1.0 / 13.0;
  p = p * z + 1.0 / 11.0;
  p = p * z + 1.0 / 9.0;
  p = p * z + 1.0 / 7.0;
  p = p * z + 1.0 / 5.0;
  p = p * z + 1.0 / 3.0;
  p = p * z + 1.0;
  return 2.0 * s * p;
}

/** ln x for a positive normal f32: x = m 2^e with m in [sqrt(1/2), sqrt(2)); m - 1 is exact there. */
fn ln_acc(x: f32) -> f32 {
  let bits = bitcast<u32>(x);
  var e = i32(bits >> 23u) - 127;
  var m = bitcast<f32>((bits & 0x7fffffu) | 0x3f800000u);
  if (m > 1.41421356) {
    m = m * 0.5;
    e = e + 1;
  }
  let fe = f32(e);
  return fe * LN2_HI + (fe * LN2_LO + two_atanh((m - 1.0) / (m + 1.0)));
}

/** Exponential variate E = -ln u for u = n 2^-54, n = (hi, lo) in [1, 2^54). */
fn exp_variate(n: vec2<u32>) -> f32 {
  if (n.x < 0x200000u) {
    return -ln_acc((f32(n.x) * 4294967296.0 + f32(n.y)) * TWO_M54);
  }
  // 2^54 - n in two words (borrow from hi when lo > 0)
  let mlo = 0u - n.y;
  let mhi = 0x400000u - n.x - select(0u, 1u, n.y != 0u);
  let w = (f32(mhi) * 4294967296.0 + f32(mlo)) * TWO_M54;
  return two_atanh(w / (2.0 - w));
}

/** Gumbel variate g = -ln(-ln u), u = n 2^-54. */
fn gumbel_of(n: vec2<u32>) -> f32 {
  return -ln_acc(exp_variate(n));
}

/** Philox words holding the draws of vocabulary ids 2j and 2j + 1 under one noise key. */
fn noise_words(seed: vec2<u32>, tag_block: u32, step: u32, position: u32, j: u32) -> vec4<u32> {
  return philox4x32(vec4<u32>(j, step, position, tag_block), seed);
}

/** n = 2k + 1 for the 53-bit draw k = (w[2h] >> 11) 2^32 + w[2h + 1] of vocabulary id 2j + h. */
fn noise_n(w: vec4<u32>, h: u32) -> vec2<u32> {
  let a = w[2u * h];
  let b = w[2u * h + 1u];
  return vec2<u32>(((a >> 11u) << 1u) | (b >> 31u), (b << 1u) | 1u);
}
