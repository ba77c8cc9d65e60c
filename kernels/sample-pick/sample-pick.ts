// Launcher for the sampling pick (sample-pick.wgsl): per row of logits, the predicted token and its
// confidence, with CFG, suppressed ids and Gumbel noise. No autograd (sampling only).
import * as fc from 'fast-check';
import { empty, type Tensor } from '../../engine/tensor.ts';
import { EngineError } from '../../engine/errors.ts';
import { seedKey, type StreamWords } from '../rng/philox.ts';
import { Uniforms, checkDtype, checkRank } from '../util.ts';
import type { OpCase, OpSpec } from '../spec.ts';
import { pickRef } from './sample-pick.ref.ts';

const WGSL = new URL('./sample-pick.wgsl', import.meta.url);
const WG = 64;

export interface PickOptions {
  /** > 0: logits holds 2*rows rows, the second half unconditional (classifier-free guidance). */
  cfgScale?: number;
  temperature?: number;
  seed?: number;
  stream?: StreamWords;
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
  const [k0, k1] = seedKey(opts.seed ?? 0);
  const [s0, s1] = opts.stream ?? [0, 0];
  const rt = logits.rt;
  const out = empty(rt, [rows, 2], 'f32', 'pick');
  const u = new Uniforms()
    .u32(V)
    .u32(rows)
    .u32(cfg > 0 ? rows : 0)
    .u32(T > 0 ? 1 : 0)
    .f32(cfg)
    .f32(T > 0 ? 1 / T : 0)
    .u32(sup.length)
    .u32(0)
    .u32(k0)
    .u32(k1)
    .u32(s0)
    .u32(s1)
    .vec4u(sup);
  const maxDim = rt.gpu.limits.maxComputeWorkgroupsPerDimension;
  const gx = Math.min(rows, maxDim);
  rt.run(rt.kernel(WGSL, 'pick', { WG }), {
    uniforms: u.bytes(),
    bindings: [logits, out],
    grid: [gx, Math.ceil(rows / gx)],
  });
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

export const samplePickSpecs: OpSpec[] = [
  {
    name: 'sample-pick',
    kernel: 'sample-pick',
    arb: pickCase,
    gpu: (_rt, [l], c) => pickTokens(l, { cfgScale: c.params.cfg, suppress: c.params.suppress }),
    ref: (c) => {
      const [R, V] = c.inputs[0].shape;
      return pickRef(c.inputs[0].data, {
        V,
        rows: c.params.cfg > 0 ? R / 2 : R,
        cfg: c.params.cfg,
        temperature: 0,
        seed: 0,
        stream: [0, 0],
        suppress: c.params.suppress,
      });
    },
    tol: () => ({ atol: 1e-6, rtol: 1e-4 }),
  },
];
