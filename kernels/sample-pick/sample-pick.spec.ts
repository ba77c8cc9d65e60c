// Property-test specs of the sampling pick (kernels/spec.ts): argmax and confidence with CFG and
// suppressed ids at temperature 0, and with Gumbel noise under random keys.
import * as fc from 'fast-check';
import type { OpCase, OpSpec } from '../spec.ts';
import type { NoiseKeys } from './noise-key.ts';
import { pickRef, pickRefWithMargin, type PickParams } from './sample-pick.ref.ts';
import { pickTokens } from './sample-pick.ts';

interface PickCase extends OpCase {
  /** T: temperature (absent: 0); noise: the Gumbel keys (absent: no noise). */
  params: { cfg: number; suppress: number[]; T?: number; noise?: NoiseKeys };
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
    return fc
      .array(fc.integer({ min: -400, max: 400 }), { minLength: R * V, maxLength: R * V })
      .map((ints): PickCase => {
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
      .map((ints): PickCase => ({
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

function refParams(c: PickCase, R: number, V: number): PickParams {
  return {
    V,
    rows: c.params.cfg > 0 ? R / 2 : R,
    cfg: c.params.cfg,
    temperature: c.params.T ?? 0,
    noise: c.params.noise,
    suppress: c.params.suppress,
  };
}

export const samplePickSpecs: OpSpec<PickCase>[] = [
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
