// How the sampler keys its random draws (Gumbel noise and random remasking), on the CPU; the pick
// kernel (sample-pick.wgsl, noise.wgsl) computes the same bits on the GPU. Production code: the
// sampler's random remasking draws from here, and the kernel's launcher checks keys here.
//
// Every draw is a pure function of what belongs to one prompt, never of its batch row, its left
// padding or how many forwards the batch has run (LLaDA's generate.py draws torch.rand over the
// whole batch, which ties a prompt's tokens to its neighbours):
//   seed      the prompt's seed (several choices of one prompt use seed + i)
//   block     index of the block being denoised (0 for infill)
//   step      the prompt's own step within that block
//   position  sequence position minus the prompt's origin (generation: the first generated token;
//             infill: the row's first real token), as a u32 (prompt positions wrap; never drawn)
//   v         vocabulary id (Gumbel noise) or 0 (random remasking)
// Philox-4x32-10 (kernels/rng/philox.ts) with key = seed and
//   counter = (floor(v / 2), step, position, (tag << 24) | block)
// gives four words; v uses words (2h, 2h + 1), h = v mod 2, as the 53-bit integer
//   k = (word[2h] >>> 11) * 2^32 + word[2h + 1]
// tag is STREAM_TAG.sampling (Gumbel) or STREAM_TAG.remask: the two never share a counter. Being a
// function of v alone within a (seed, block, step, position) key, the noise of a vocabulary slice
// can be computed on its own (an LM head fused with the pick, chunk by chunk).
// Random remasking's uniform is k * 2^-53 (torch.rand's float64 grid); the Gumbel transform of k
// lives with the kernel (noise.wgsl) and its float64 reference (sample-pick.ref.ts).
import { philox4x32, seedKey, STREAM_TAG } from '../rng/philox.ts';

/** The noise key of one logits row's prompt: see the header. */
export interface SeqKey {
  seed: number;
  /** Sequence position that is key position 0. */
  origin: number;
  /** The prompt's own step within the block. */
  step: number;
}

/**
 * Keys of a batch of logits rows: row r belongs to prompt floor(r / rowsPerSeq) and sits at sequence
 * position start + (r mod rowsPerSeq); with CFG the unconditional rows share their prompt's keys.
 */
export interface NoiseKeys {
  block: number;
  rowsPerSeq: number;
  start: number;
  seqs: SeqKey[];
}

const TWO_32 = 4294967296;
const isU32 = (x: number) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff;

/** A message naming the bad field of `keys` for `rows` logits rows, or null when they are valid. */
export function noiseKeysProblem(keys: NoiseKeys, rows: number): string | null {
  if (!Number.isInteger(keys.block) || keys.block < 0 || keys.block >= 1 << 24)
    return `noise block ${keys.block} not in [0, 2^24)`;
  if (!isU32(keys.rowsPerSeq) || keys.rowsPerSeq < 1) return `noise rowsPerSeq ${keys.rowsPerSeq} not a u32 >= 1`;
  if (!isU32(keys.start)) return `noise start ${keys.start} not a u32`;
  const need = Math.ceil(rows / keys.rowsPerSeq);
  if (keys.seqs.length < need)
    return `${rows} rows of ${keys.rowsPerSeq} per prompt need ${need} keys, got ${keys.seqs.length}`;
  for (const [i, s] of keys.seqs.entries()) {
    if (!Number.isSafeInteger(s.seed) || s.seed < 0) return `prompt ${i}: seed ${s.seed} not an integer in [0, 2^53)`;
    if (!isU32(s.origin) || !isU32(s.step)) return `prompt ${i}: origin ${s.origin} / step ${s.step} not u32`;
  }
  return null;
}

/** The four Philox words that hold the draws of vocabulary ids 2j and 2j + 1. */
export function noiseWords(
  seed: number,
  tag: number,
  block: number,
  step: number,
  position: number,
  j: number,
  out = new Uint32Array(4),
): Uint32Array {
  return philox4x32([j >>> 0, step >>> 0, position >>> 0, ((tag << 24) | block) >>> 0], seedKey(seed), out);
}

/** k in [0, 2^53) of vocabulary id v (see the header). */
export function noiseU53(seed: number, tag: number, block: number, step: number, position: number, v: number): number {
  const w = noiseWords(seed, tag, block, step, position, Math.floor(v / 2));
  const h = 2 * (v % 2);
  return (w[h] >>> 11) * TWO_32 + w[h + 1];
}

/** Random remasking's uniform in [0, 1) for one position. */
export function remaskUniform(seed: number, block: number, step: number, position: number): number {
  return noiseU53(seed, STREAM_TAG.remask, block, step, position, 0) * 2 ** -53;
}
