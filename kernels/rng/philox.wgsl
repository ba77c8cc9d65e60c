// Philox-4x32-10 (Salmon et al. 2011) as WGSL functions, for `// #include "../rng/philox.wgsl"`.
// Bit-exact with kernels/rng/philox.ts: key = (seed lo, seed hi); counter = (block lo, block hi,
// s0, s1) with block = index / 4; value = word index % 4. WGSL has no u64: the 32x32 -> 64-bit
// product is assembled from 16-bit limbs, exactly as the reference does.

fn philox_mulhi(a: u32, b: u32) -> u32 {
  let al = a & 0xffffu;
  let ah = a >> 16u;
  let bl = b & 0xffffu;
  let bh = b >> 16u;
  let ll = al * bl;
  let lh = al * bh;
  let hl = ah * bl;
  let hh = ah * bh;
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  return hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

fn philox4x32(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    let hi0 = philox_mulhi(0xd2511f53u, c.x);
    let lo0 = 0xd2511f53u * c.x;
    let hi1 = philox_mulhi(0xcd9e8d57u, c.z);
    let lo1 = 0xcd9e8d57u * c.z;
    c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    if (r < 9u) {
      k = k + vec2<u32>(0x9e3779b9u, 0xbb67ae85u);
    }
  }
  return c;
}

/** u32 number `index` of stream (s0, s1) under `seed` (lo, hi). index < 2^32 here. */
fn philox_u32(seed: vec2<u32>, stream: vec2<u32>, index: u32) -> u32 {
  let r = philox4x32(vec4<u32>(index >> 2u, 0u, stream.x, stream.y), seed);
  return r[index & 3u];
}

/** (u >> 8) * 2^-24 in [0, 1), exact in f32. */
fn philox_uniform(u: u32) -> f32 {
  return f32(u >> 8u) * 5.9604644775390625e-8;
}
