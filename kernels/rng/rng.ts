// Counter-based random numbers on the GPU: Philox-4x32-10 draws, bit-exact with the CPU Philox
// kernels/rng/philox.ts (its header defines the (seed, stream, index) -> u32 mapping and
// uniform(u) = (u >>> 8) * 2^-24). Element k of a tensor is element offset + k of its stream, so a
// resumed run draws what the uninterrupted one would have. Kernel in rng.wgsl.
//
// How the project consumes it (streams from streamOf(STREAM_TAG.<use>, a, b), philox.ts):
// - MDLM masks (LLaDA pre-training, GUIDELINES): per sample b, t_b = uniform #b of
//   streamOf(mdlmT, step, 0); position l is masked iff uniform #l of streamOf(mdlmMask, step, b) is
//   < p_mask = (1 - eps) t_b + eps. philoxUniformRows draws all samples' rows in one dispatch.
// - Sampling's Gumbel noise and random remasking: keyed per prompt (seed, block, step, position,
//   vocabulary id) straight on the Philox counter, 53 bits per draw: kernels/sample-pick/noise-key.ts.
// - A kernel that draws noise inline (sample-pick) includes the shared block function with
//   `// #include "../rng/philox.wgsl"`; rng.spec.ts checks that function bit for bit.
// Deliberately no stateful generator: every call names its seed, stream and offset.
import type { Runtime } from '../../engine/runtime.ts';
import { empty, type Tensor } from '../../engine/tensor.ts';
import { EngineError } from '../../engine/errors.ts';
import { Uniforms, grid1d } from '../util.ts';
import * as philox from './philox.ts';

export { STREAM_TAG, streamOf, type StreamWords } from './philox.ts';

import WGSL from './rng.wgsl.ts';
const WG = 64;

export type Stream = number | philox.StreamWords;

function fill(
  op: string,
  rt: Runtime,
  seed: number,
  stream: Stream,
  rows: number,
  n: number,
  offset: number,
  uniform: boolean,
): Tensor {
  let key: philox.Key2, words: philox.StreamWords;
  try {
    key = philox.seedKey(seed);
    words = philox.streamWords(stream);
  } catch (e) {
    throw new EngineError(`${op}: ${(e as Error).message}`);
  }
  if (!Number.isSafeInteger(n) || n < 0) throw new EngineError(`${op}: count must be an integer >= 0, got ${n}`);
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + n > Number.MAX_SAFE_INTEGER) {
    throw new EngineError(
      `${op}: offset must be an integer >= 0 with offset + count < 2^53, got offset ${offset}, count ${n}`,
    );
  }
  if (words[1] + rows - 1 > 0xffffffff)
    throw new EngineError(`${op}: ${rows} rows from stream word ${words[1]} overflow a u32`);
  const shape = rows === 1 ? [n] : [rows, n];
  const out = empty(rt, shape, uniform ? 'f32' : 'u32', uniform ? 'philox.uniform' : 'philox.u32');
  if (n === 0 || rows === 0) return out;
  const r = offset % 4;
  const block0 = Math.floor(offset / 4);
  const bpr = Math.ceil((n + r) / 4);
  const u = new Uniforms()
    .u32(key[0])
    .u32(key[1])
    .u32(words[0])
    .u32(words[1])
    .u32(block0 % 2 ** 32)
    .u32(Math.floor(block0 / 2 ** 32))
    .u32(n)
    .u32(r)
    .u32(rows)
    .u32(bpr);
  rt.run(rt.kernel(WGSL, 'philox_fill', { WG, UNIFORM: uniform }), {
    uniforms: u.bytes(),
    bindings: [out],
    grid: grid1d(Math.ceil((rows * bpr) / WG), rt.limits.maxComputeWorkgroupsPerDimension),
  });
  return out;
}

/** n raw u32 draws of `stream` under `seed`, elements offset .. offset + n - 1, as a u32 (n) tensor. */
export function philoxU32(rt: Runtime, seed: number, stream: Stream, n: number, offset = 0): Tensor {
  return fill('philoxU32', rt, seed, stream, 1, n, offset, false);
}

/** n uniform draws in [0, 1) (multiples of 2^-24), elements offset .. offset + n - 1, f32 (n). */
export function philoxUniform(rt: Runtime, seed: number, stream: Stream, n: number, offset = 0): Tensor {
  return fill('philoxUniform', rt, seed, stream, 1, n, offset, true);
}

/**
 * Uniform draws for `rows` consecutive streams in one dispatch, f32 (rows, n): row q is
 * philoxUniform(seed, [s0, s1 + q], n, offset), i.e. streamOf(tag, a, b + q) for stream0 =
 * streamOf(tag, a, b) (one row of mask draws per sample).
 */
export function philoxUniformRows(
  rt: Runtime,
  seed: number,
  stream0: philox.StreamWords,
  rows: number,
  n: number,
  offset = 0,
): Tensor {
  if (!Number.isSafeInteger(rows) || rows < 1)
    throw new EngineError(`philoxUniformRows: rows must be an integer >= 1, got ${rows}`);
  return fill('philoxUniformRows', rt, seed, stream0, rows, n, offset, true);
}
