// Launcher for the sampling pick (sample-pick.wgsl): per row of logits, the predicted token and its
// confidence, with CFG, suppressed ids and Gumbel noise keyed per prompt (noise-key.ts). No autograd
// (sampling only).
import * as fc from 'fast-check';
import { empty, tensor, type Tensor } from '../../engine/tensor.ts';
import { EngineError } from '../../engine/errors.ts';
import { seedKey, STREAM_TAG } from '../rng/philox.ts';
import { Uniforms, checkDtype, checkRank } from '../util.ts';
import type { OpCase, OpSpec } from '../spec.ts';
import { noiseKeysProblem, type NoiseKeys } from './noise-key.ts';
import { pickRef, pickRefWithMargin, type PickParams } from './sample-pick.ref.ts';

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

// Spec: logits on a 1/64 grid, distinct per row (so argmax has no near-ties), temperature 0.
const pickCase = fc
  .record({
    rows: fc.integer({ min: 1, max: 7 }),
    V: fc.integer({ min: 1, max: 200 }),
    cfg: fc.constantFrom(0, 0, 1.5),
    sup: fc.boolean(),
  })
  .chain(({ rows, V, cfg, sup }) => {
    const R = cfg > 0 ? 2 * rows : rows;
    return fc.array(fc.integer({ min: -400, max: 400 }), { minLength: R * V, maxLength: R * V }).map((ints): OpCase => {
      const data = new Float32Array(R * V);
      for (let r = 0; r < R; r++) {
        // distinct values within a row: a shuffled ramp plus noise-free offsets
        for (let v = 0; v < V; v++) data[r * V + v] = (ints[r * V + v] + v * 801) / 64 / 8;
      }
      return {
        inputs: [{ name: 'logits', shape: [R, V], data, grad: false }],
        params: { cfg, suppress: sup && V > 2 ? [0, V - 1] : [] },
      };
    });
  });

// Spec with noise: logits on a 1/64 grid in [-3, 3] (ties broken by the noise), random keys for
// every field; cases where the reference's best noised score leads the runner-up by less than 1e-4
// are dropped (the GPU's f32 scores may order those either way).
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const noisyCase = fc
  .record({
    rows: fc.integer({ min: 1, max: 7 }),
    V: fc.integer({ min: 1, max: 200 }),
    cfg: fc.constantFrom(0, 1.5),
    T: fc.constantFrom(0.5, 1, 2),
    sup: fc.boolean(),
    block: fc.integer({ min: 0, max: 2 ** 24 - 1 }),
    start: fc.oneof(fc.integer({ min: 0, max: 40 }), u32),
    perSeq: fc.integer({ min: 1, max: 7 }),
    seqs: fc.array(
      fc.record({
        seed: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        origin: fc.oneof(fc.integer({ min: 0, max: 40 }), u32),
        step: fc.oneof(fc.integer({ min: 0, max: 40 }), u32),
      }),
      { minLength: 7, maxLength: 7 },
    ),
  })
  .chain((p) => {
    const R = p.cfg > 0 ? 2 * p.rows : p.rows;
    return fc
      .array(fc.integer({ min: -200, max: 200 }), { minLength: R * p.V, maxLength: R * p.V })
      .map((ints): OpCase => ({
        inputs: [{ name: 'logits', shape: [R, p.V], data: Float32Array.from(ints, (x) => x / 64), grad: false }],
        params: {
          cfg: p.cfg,
          T: p.T,
          suppress: p.sup && p.V > 2 ? [0, p.V - 1] : [],
          noise: { block: p.block, rowsPerSeq: p.perSeq, start: p.start, seqs: p.seqs } satisfies NoiseKeys,
        },
      }));
  })
  .filter((c) => {
    const [R, V] = c.inputs[0].shape;
    const full = pickRefWithMargin(c.inputs[0].data, refParams(c, R, V));
    for (let r = 0; 3 * r < full.length; r++) if (full[3 * r + 2] < 1e-4) return false;
    return true;
  });

function refParams(c: OpCase, R: number, V: number): PickParams {
  return {
    V,
    rows: c.params.cfg > 0 ? R / 2 : R,
    cfg: c.params.cfg,
    temperature: c.params.T ?? 0,
    noise: c.params.noise,
    suppress: c.params.suppress,
  };
}

export const samplePickSpecs: OpSpec[] = [
  {
    name: 'sample-pick',
    kernel: 'sample-pick',
    arb: pickCase,
    gpu: (_rt, [l], c) => pickTokens(l, { cfgScale: c.params.cfg, suppress: c.params.suppress }),
    ref: (c) => pickRef(c.inputs[0].data, refParams(c, c.inputs[0].shape[0], c.inputs[0].shape[1])),
    tol: () => ({ atol: 1e-6, rtol: 1e-4 }),
  },
  {
    name: 'sample-pick.noise',
    kernel: 'sample-pick',
    arb: noisyCase,
    gpu: (_rt, [l], c) =>
      pickTokens(l, {
        cfgScale: c.params.cfg,
        suppress: c.params.suppress,
        temperature: c.params.T,
        noise: c.params.noise,
      }),
    ref: (c) => pickRef(c.inputs[0].data, refParams(c, c.inputs[0].shape[0], c.inputs[0].shape[1])),
    tol: () => ({ atol: 1e-6, rtol: 1e-4 }),
  },
];
