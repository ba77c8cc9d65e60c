// Launcher for the sampling pick (sample-pick.wgsl): per row of logits, the predicted token and its
// confidence, with CFG, suppressed ids and Gumbel noise keyed per prompt (noise-key.ts);
// pickTokensFused fuses the LM head in vocabulary chunks. No autograd (sampling only).
import { empty, tensor, type Tensor } from '../../engine/tensor.ts';
import { EngineError } from '../../engine/errors.ts';
import { seedKey, STREAM_TAG } from '../rng/philox.ts';
import { Uniforms, boundRows, checkDtype, checkRank, checkWeightDtype, fail } from '../util.ts';
import { matmulInto } from '../matmul/matmul.ts';
import { vocabChunk } from '../softmax-xent/lm-head-xent.ts';
import type { Runtime } from '../../engine/runtime.ts';
import { noiseKeysProblem, type NoiseKeys } from './noise-key.ts';

import WGSL from './sample-pick.wgsl.ts';
const WG = 64;

export interface PickOptions {
  /** > 0: logits holds 2*rows rows, the second half unconditional (classifier-free guidance). */
  cfgScale?: number;
  temperature?: number;
  /** What the Gumbel noise of each row is keyed by (needed when temperature > 0). */
  noise?: NoiseKeys;
  /** Up to 4 token ids never predicted (EOS/EOT suppression). */
  suppress?: number[];
}

interface PickLaunch {
  rows: number;
  keys: Tensor;
  uniforms(V: number, col0: number, phase: number): Uint8Array;
}

/** Argument checks, the noise keys tensor and the uniforms of a pick over R rows of V logits. */
function prepare(op: string, rt: Runtime, R: number, vTotal: number, opts: PickOptions): PickLaunch {
  const cfg = opts.cfgScale ?? 0;
  if (cfg > 0 && R % 2 !== 0)
    throw new EngineError(`${op}: CFG needs an even number of logit rows, got [${R}, ${vTotal}]`);
  const rows = cfg > 0 ? R / 2 : R;
  const sup = opts.suppress ?? [];
  if (sup.length > 4) throw new EngineError(`${op}: at most 4 suppressed ids, got ${sup.length}`);
  if (vTotal >= 1 << 24) throw new EngineError(`${op}: vocabulary ${vTotal} too large for f32 token ids`);
  const T = opts.temperature ?? 0;
  if (T > 0 && !opts.noise) throw new EngineError(`${op}: temperature > 0 needs noise keys`);
  const noise = T > 0 ? opts.noise : undefined;
  const problem = noise ? noiseKeysProblem(noise, rows) : null;
  if (problem) throw new EngineError(`${op}: ${problem}`);
  const seqs = noise?.seqs ?? [{ seed: 0, origin: 0, step: 0 }];
  const keyWords = new Uint32Array(4 * seqs.length);
  seqs.forEach((q, i) => keyWords.set([...seedKey(q.seed), q.origin, q.step], 4 * i));
  const keys = tensor(rt, keyWords, [seqs.length, 4], 'u32', 'pick.keys');
  const uniforms = (V: number, col0: number, phase: number) =>
    new Uniforms()
      .u32(V)
      .u32(rows)
      .u32(cfg > 0 ? rows : 0)
      .u32(noise ? 1 : 0)
      .f32(cfg)
      .f32(noise ? 1 / T : 0)
      .u32(sup.length)
      .u32(noise?.rowsPerSeq ?? 1)
      .u32(noise?.start ?? 0)
      .u32(((STREAM_TAG.sampling << 24) | (noise?.block ?? 0)) >>> 0)
      .vec4u(sup)
      .u32(col0)
      .u32(vTotal)
      .u32(phase)
      .bytes();
  return { rows, keys, uniforms };
}

function grid(rt: Runtime, rows: number): [number, number] {
  const gx = Math.min(rows, rt.limits.maxComputeWorkgroupsPerDimension);
  return [gx, Math.ceil(rows / gx)];
}

/** (rows, 2) f32: [token id, confidence] per row. */
export function pickTokens(logits: Tensor, opts: PickOptions = {}): Tensor {
  checkDtype('pickTokens', logits, 'f32');
  checkRank('pickTokens', logits, 2, 'logits');
  const [R, V] = logits.shape;
  const rt = logits.rt;
  const L = prepare('pickTokens', rt, R, V, opts);
  const out = empty(rt, [L.rows, 2], 'f32', 'pick');
  rt.run(rt.kernel(WGSL, 'pick', { WG }), {
    uniforms: L.uniforms(V, 0, 3),
    bindings: [logits, out, L.keys],
    grid: grid(rt, L.rows),
  });
  L.keys.dispose();
  return out;
}

/**
 * The LM head fused with the pick: pickTokens(x head^T) for final hidden states x (R, C) and the
 * head (V, C), over vocabulary chunks that each fit one binding (and maxChunkBytes), so the
 * (R, V) logits never exist whole. Same picks as pickTokens on the whole logits (noise and
 * suppression are keyed by vocabulary id, ties keep the lower id); the confidence's sum-exp is
 * merged in another order (f32 rounding).
 */
export function pickTokensFused(x: Tensor, head: Tensor, opts: PickOptions & { maxChunkBytes?: number } = {}): Tensor {
  const op = 'pickTokensFused';
  checkDtype(op, x, 'f32');
  checkWeightDtype(op, head);
  checkRank(op, x, 2, 'x (R, C)');
  checkRank(op, head, 2, 'head (V, C)');
  const [R, C] = x.shape;
  const V = head.shape[0];
  if (head.shape[1] !== C) fail(op, 'x (R, C) and head (V, C) must share C', x, head);
  const rt = x.rt;
  const L = prepare(op, rt, R, V, opts);
  let vc = vocabChunk(op, x, head, opts.maxChunkBytes);
  if (vc < V) vc = Math.max(2, vc - (vc % 2)); // even chunk starts: noise comes in pairs of ids
  const out = empty(rt, [L.rows, 2], 'f32', 'pick');
  const state = empty(rt, [L.rows, 8], 'f32', 'pick.state');
  for (let v0 = 0; v0 < V; v0 += vc) {
    const v1 = Math.min(V, v0 + vc);
    const w = boundRows(head, v0, v1);
    const logits = empty(rt, [R, v1 - v0], 'f32', 'pick.logits');
    matmulInto(logits, x, w.t, { transB: true });
    w.done();
    const phase = (v0 === 0 ? 1 : 0) | (v1 === V ? 2 : 0);
    rt.run(rt.kernel(WGSL, 'pick_chunk', { WG }), {
      uniforms: L.uniforms(v1 - v0, v0, phase),
      bindings: [logits, out, L.keys, state],
      grid: grid(rt, L.rows),
    });
    logits.dispose();
    if (vc < V) rt.flush(); // the chunk's logits buffer is reusable only after a submit
  }
  state.dispose();
  L.keys.dispose();
  return out;
}
