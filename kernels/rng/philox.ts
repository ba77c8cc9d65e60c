// Philox-4x32-10 counter-based RNG on the CPU (Salmon, Moraes, Dror, Shaw 2011, "Parallel random
// numbers: as easy as 1, 2, 3", SC'11, section 4.2; constants and round structure as in the
// Random123 distribution's philox.h). Production code: MDLM masks, data order, task splits, init and
// sampling draw from it, and the GPU Philox (philox.wgsl) must match it bit for bit. Pure TypeScript
// over u32 numbers: no engine, no GPU, no state.
// Deliberately no stateful generator object: every draw is a pure function of (seed, stream, index),
// which is what lets a resumed run draw exactly what the uninterrupted one would have.
//
// The mapping "(seed, stream, index) -> u32" that the WGSL version must reproduce bit for bit:
//   key     = (k0, k1) = (seed mod 2^32, floor(seed / 2^32))            seed  in [0, 2^53)
//   counter = (c0, c1, c2, c3) = (block mod 2^32, floor(block / 2^32), s0, s1)
//             where block = floor(index / 4) and (s0, s1) are the stream's two words
//   value   = philox4x32(counter, key)[index mod 4]
// A stream is either a number in [0, 2^53) (s0 = low 32 bits, s1 = high bits) or an explicit pair
// [s0, s1] of u32 words; `streamOf(tag, a, b)` builds the project's conventional pair
// [a, (tag << 24) | b] so each use (MDLM t, MDLM masks, data order, ...) has its own domain.
//   uniformFloat(u) = (u >>> 8) * 2^-24, in [0, 1 - 2^-24]; exact in f32, so the GPU matches exactly.
// Rounds: (hi0, lo0) = mulhilo(M0, c0); (hi1, lo1) = mulhilo(M1, c2);
//   c' = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0); then k += (W0, W1); ten rounds, key bumped
//   between rounds (nine bumps). mulhi32 splits into 16-bit halves so it needs no 64-bit type,
//   the same way WGSL (no u64) has to do it.

export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;
export const PHILOX_ROUNDS = 10;

const TWO_32 = 4294967296;

/** High 32 bits of the exact 64-bit product of two u32 values. */
export function mulhi32(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl; // each partial product < 2^32: exact in a double
  const lh = al * bh;
  const hl = ah * bl;
  const hh = ah * bh;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff); // < 3 * 2^16
  return (hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/** Low 32 bits of the product of two u32 values. */
export function mullo32(a: number, b: number): number {
  return Math.imul(a, b) >>> 0;
}

export type Counter4 = readonly [number, number, number, number];
export type Key2 = readonly [number, number];
export type StreamWords = readonly [number, number];

/** One Philox-4x32-10 block: four u32 outputs for a 128-bit counter and a 64-bit key. */
export function philox4x32(counter: Counter4, key: Key2, out = new Uint32Array(4)): Uint32Array {
  let c0 = counter[0] >>> 0;
  let c1 = counter[1] >>> 0;
  let c2 = counter[2] >>> 0;
  let c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let r = 0; r < PHILOX_ROUNDS; r++) {
    if (r > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulhi32(PHILOX_M0, c0);
    const lo0 = mullo32(PHILOX_M0, c0);
    const hi1 = mulhi32(PHILOX_M1, c2);
    const lo1 = mullo32(PHILOX_M1, c2);
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

/** Top 24 bits of a u32 scaled to [0, 1): every value is an exact f32. */
export function uniformFloat(u32: number): number {
  return (u32 >>> 8) * 5.9604644775390625e-8; // 2^-24
}

function splitU53(x: number, what: string): [number, number] {
  if (!Number.isSafeInteger(x) || x < 0) {
    throw new RangeError(`philox ${what} must be an integer in [0, 2^53), got ${x}`);
  }
  return [(x % TWO_32) >>> 0, Math.floor(x / TWO_32) >>> 0];
}

/** Philox key for a seed in [0, 2^53). */
export function seedKey(seed: number): Key2 {
  return splitU53(seed, 'seed');
}

/** The two counter words (c2, c3) of a stream given as a number in [0, 2^53) or a word pair. */
export function streamWords(stream: number | StreamWords): StreamWords {
  if (typeof stream === 'number') return splitU53(stream, 'stream');
  const [s0, s1] = stream;
  for (const w of [s0, s1]) {
    if (!Number.isInteger(w) || w < 0 || w > 0xffffffff) {
      throw new RangeError(`philox stream words must be u32, got [${s0}, ${s1}]`);
    }
  }
  return [s0, s1];
}

/**
 * Stream domains used by the project. Adding a domain means adding a tag here (never reusing one):
 * a tag occupies the top 8 bits of stream word s1, so domains can never collide.
 */
export const STREAM_TAG = {
  mdlmT: 1, // MDLM per-sequence t: streamOf(mdlmT, step, 0), index = sample within the step
  mdlmMask: 2, // MDLM per-position mask draws: streamOf(mdlmMask, step, sample), index = position
  dataShuffle: 3, // epoch permutation: streamOf(dataShuffle, epoch, 0), index = Fisher-Yates draw
  taskSplit: 4, // builtin task generators: streamOf(taskSplit, part, 0), index = draw number
  init: 5, // reserved: parameter initialisation
  sampling: 6, // sampling's Gumbel noise: counter (v / 2, step, position, tag|block), kernels/sample-pick/noise-key.ts
  likelihood: 7, // Monte Carlo log-likelihood: streamOf(likelihood, example, round)
  remask: 8, // sampling's random remasking: keyed as sampling (noise-key.ts), v = 0
  genLength: 9, // training rows' generation length: streamOf(genLength, step, micro-batch), index 0
  loraDropout: 10, // LoRA dropout: streamOf(loraDropout, step, (micro * 64 + layer) * 7 + module), index = element
  loraInit: 11, // LoRA A initialisation: streamOf(loraInit, module index, 0), index = element
} as const;

/** Stream words [a, (tag << 24) | b]; a is a full u32, b must fit in 24 bits. */
export function streamOf(tag: number, a: number, b: number): StreamWords {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff) throw new RangeError(`stream tag ${tag} not in [0, 255]`);
  if (!Number.isInteger(a) || a < 0 || a > 0xffffffff) throw new RangeError(`stream word ${a} not a u32`);
  if (!Number.isInteger(b) || b < 0 || b > 0xffffff) throw new RangeError(`stream sub-index ${b} not in [0, 2^24)`);
  return [a, ((tag << 24) | b) >>> 0];
}

/** The u32 at position `index` of stream `stream` under `seed` (see the header for the mapping). */
export function randomU32(seed: number, stream: number | StreamWords, index: number): number {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`philox index must be an integer >= 0`);
  const [block0, block1] = splitU53(Math.floor(index / 4), 'index');
  const [s0, s1] = streamWords(stream);
  return philox4x32([block0, block1, s0, s1], seedKey(seed))[index % 4];
}

/** n consecutive u32 draws of a stream, starting at element `offset`. */
export function philoxU32(seed: number, stream: number | StreamWords, n: number, offset = 0): Uint32Array {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`philox offset must be an integer >= 0`);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`philox count must be an integer >= 0`);
  const key = seedKey(seed);
  const [s0, s1] = streamWords(stream);
  const out = new Uint32Array(n);
  const block = new Uint32Array(4);
  let cached = -1;
  for (let i = 0; i < n; i++) {
    const idx = offset + i;
    const b = Math.floor(idx / 4);
    if (b !== cached) {
      philox4x32([(b % TWO_32) >>> 0, Math.floor(b / TWO_32) >>> 0, s0, s1], key, block);
      cached = b;
    }
    out[i] = block[idx % 4]!;
  }
  return out;
}

/** n consecutive uniform draws in [0, 1) of a stream, starting at element `offset`. */
export function philoxUniform(seed: number, stream: number | StreamWords, n: number, offset = 0): Float32Array {
  const u = philoxU32(seed, stream, n, offset);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = uniformFloat(u[i]);
  return out;
}

/**
 * Integer in [0, n) from one u32 as floor(u * n / 2^32) (Lemire's multiply-shift without the
 * rejection step: bias below n / 2^32, irrelevant for data order). Exact integer arithmetic, so a
 * WGSL port gets the same answer with the same mulhi.
 */
export function u32Below(u32: number, n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new RangeError(`u32Below bound ${n} not in [1, 2^32)`);
  return mulhi32(u32 >>> 0, n);
}

/** A permutation of 0..n-1: Fisher-Yates driven by the u32 draws of one Philox stream. */
export function philoxPermutation(n: number, seed: number, stream: number | StreamWords): Uint32Array {
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const draws = philoxU32(seed, stream, Math.max(0, n - 1));
  for (let i = n - 1; i >= 1; i--) {
    const j = u32Below(draws[n - 1 - i], i + 1);
    const t = perm[i];
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm;
}
