// Launcher for the sampling pick (sample-pick.wgsl): per row of logits, the predicted token and its
// confidence, with CFG, suppressed ids and Gumbel noise keyed per prompt (noise-key.ts). No autograd
// (sampling only).
import { empty, tensor, type Tensor } from '../../engine/tensor.ts';
import { EngineError } from '../../engine/errors.ts';
import { seedKey, STREAM_TAG } from '../rng/philox.ts';
import { Uniforms, checkDtype, checkRank } from '../util.ts';
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

/** (rows, 2) f32: [token id, confidence] per row. */
export function pickTokens(logits: Tensor, opts: PickOptions = {}): Tensor {
  checkDtype('pickTokens', logits, 'f32');
  checkRank('pickTokens', logits, 2, 'logits');
  const cfg = opts.cfgScale ?? 0;
  const [R, V] = logits.shape;
  if (cfg > 0 && R % 2 !== 0)
    throw new EngineError(`pickTokens: CFG needs an even number of logit rows, got [${R}, ${V}]`);
  const rows = cfg > 0 ? R / 2 : R;
  const sup = opts.suppress ?? [];
  if (sup.length > 4) throw new EngineError(`pickTokens: at most 4 suppressed ids, got ${sup.length}`);
  if (V >= 1 << 24) throw new EngineError(`pickTokens: vocabulary ${V} too large for f32 token ids`);
  const T = opts.temperature ?? 0;
  if (T > 0 && !opts.noise) throw new EngineError('pickTokens: temperature > 0 needs noise keys');
  const noise = T > 0 ? opts.noise : undefined;
  const problem = noise ? noiseKeysProblem(noise, rows) : null;
  if (problem) throw new EngineError(`pickTokens: ${problem}`);
  const seqs = noise?.seqs ?? [{ seed: 0, origin: 0, step: 0 }];
  const keyWords = new Uint32Array(4 * seqs.length);
  seqs.forEach((q, i) => keyWords.set([...seedKey(q.seed), q.origin, q.step], 4 * i));
  const rt = logits.rt;
  const keys = tensor(rt, keyWords, [seqs.length, 4], 'u32', 'pick.keys');
  const out = empty(rt, [rows, 2], 'f32', 'pick');
  const u = new Uniforms()
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
    .vec4u(sup);
  const maxDim = rt.limits.maxComputeWorkgroupsPerDimension;
  const gx = Math.min(rows, maxDim);
  rt.run(rt.kernel(WGSL, 'pick', { WG }), {
    uniforms: u.bytes(),
    bindings: [logits, out, keys],
    grid: [gx, Math.ceil(rows / gx)],
  });
  keys.dispose();
  return out;
}
