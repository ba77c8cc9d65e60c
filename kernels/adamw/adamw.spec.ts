// Property-test specs of the AdamW step, the gradient sum of squares and the clip scale (kernels/spec.ts):
// several steps on random sizes around the vec4 and workgroup edges, bindings split under a lowered limit.
import * as fc from 'fast-check';
import type { Runtime } from '../../engine/runtime.ts';
import { empty, type Tensor } from '../../engine/tensor.ts';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s } from '../arb.ts';
import { adamwRef, clipScaleRef, gradNormSquaredRef, type AdamwRefOpts } from './adamw.ref.ts';
import { SUMSQ_SHAPE, adamwStep, gradNormSquared, clipScale } from './adamw.ts';

const { WG, SUM_ITEMS } = SUMSQ_SHAPE;

const size = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 300 }) },
  { weight: 2, arbitrary: fc.constantFrom(1, 3, 4, 5, 8, 63, 64, 65, 255, 256, 257, 1021, 1024) },
  { weight: 1, arbitrary: fc.constantFrom(4096 * 3 + 4, 4096 * 5 - 1) },
);

interface AdamwCase extends OpCase {
  params: { opts: AdamwRefOpts; steps: number; scale?: number; maxBindingBytes?: number };
}

const adamwCase: fc.Arbitrary<AdamwCase> = fc
  .record({
    n: size,
    lr: fc.constantFrom(1e-4, 1e-3, 3e-3, 0.1),
    beta1: fc.constantFrom(0.9, 0.8, 0.5, 0),
    beta2: fc.constantFrom(0.999, 0.95, 0.99, 0.5),
    eps: fc.constantFrom(1e-8, 1e-6, 1e-12),
    weightDecay: fc.constantFrom(0, 0.01, 0.1),
    step: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5000 })),
    steps: fc.integer({ min: 1, max: 3 }),
    scale: fc.option(fc.float({ min: Math.fround(0.01), max: 1, noNaN: true }).map(Math.fround), { nil: undefined }),
    split: fc.option(fc.constantFrom(256, 512, 1024), { nil: undefined, freq: 4 }),
  })
  .chain(({ n, steps, scale, split, ...opts }) =>
    fc.tuple(f32s(n), f32s(n), f32s(n, -1, 1), f32s(n, 0, 4)).map(([p, g, m, extra]) => ({
      inputs: [
        { name: 'param', shape: [n], data: p, grad: false },
        { name: 'grad', shape: [n], data: g, grad: false },
        { name: 'm', shape: [n], data: m, grad: false },
        // v >= m^2 as in real Adam states (the ratio m / sqrt(v) stays O(1)); v >= 0 always
        { name: 'v', shape: [n], data: m.map((x, i) => ftz(Math.fround(x * x + extra[i]))), grad: false },
      ],
      // at most ~8 pieces: enough to cross piece boundaries, few dispatches
      params: { opts, steps, scale, maxBindingBytes: split && Math.max(split, 256 * Math.ceil(n / 512)) },
    })),
  );

const ftz = (x: number) => (Math.abs(x) < 2 ** -126 ? 0 : x);

function adamwGpu(rt: Runtime, [p, g, m, v]: Tensor[], c: AdamwCase): Tensor {
  const { opts, steps, scale, maxBindingBytes } = c.params;
  const gradScale = scale === undefined ? undefined : empty(rt, [1], 'f32', 'scale');
  if (gradScale) gradScale.write([scale!]);
  for (let s = 0; s < steps; s++) adamwStep(p, g, m, v, { ...opts, step: opts.step + s, gradScale, maxBindingBytes });
  const out = empty(rt, [3, p.size], 'f32', 'adamw.state');
  const enc = rt.commandEncoder();
  [p, m, v].forEach((t, i) =>
    enc.copyBufferToBuffer(t.buffer, t.byteOffset, out.buffer, i * t.byteLength, t.byteLength),
  );
  return out;
}

interface NormCase extends OpCase {
  params: { maxBindingBytes?: number };
}

const normCase: fc.Arbitrary<NormCase> = fc
  .tuple(
    fc.array(size, { minLength: 1, maxLength: 3 }),
    fc.option(fc.constantFrom(256, 1024), { nil: undefined, freq: 3 }),
  )
  .chain(([ns, split]) =>
    fc.tuple(...ns.map((n) => f32s(n))).map((xs) => ({
      inputs: xs.map((x, i) => ({ name: `g${i}`, shape: [x.length], data: x, grad: false })),
      params: { maxBindingBytes: split },
    })),
  );

interface ClipCase extends OpCase {
  params: { maxNorm: number };
}

export const adamwSpecs: OpSpec[] = [
  {
    name: 'adamw.step',
    kernel: 'adamw',
    arb: adamwCase,
    gpu: adamwGpu,
    ref: (c: AdamwCase) =>
      adamwRef(
        c.inputs[0].data,
        c.inputs[1].data,
        c.inputs[2].data,
        c.inputs[3].data,
        c.params.opts,
        c.params.steps,
        c.params.scale,
      ),
    // f32 state: p, m, v each round by a few 2^-24 relative per step (rtol); m = b1 m + (1 - b1) g
    // can cancel (absolute ~2^-24 (|m| + |g|) < 1e-6 here), which the update carries into p scaled
    // by lr sqrt(1 - b2^t) / (1 - b1^t) / sqrt(v), bounded since m^2 <= C v (amp). Measured worst
    // over 300 cases: a quarter of this.
    tol: (c: AdamwCase) => {
      const { lr, beta1, beta2, step } = c.params.opts;
      const amp = (lr * Math.sqrt(1 - beta2 ** step)) / (1 - beta1 ** step);
      return { atol: c.params.steps * (2e-7 + 1e-6 * amp), rtol: 5e-7 * c.params.steps };
    },
  } satisfies OpSpec<AdamwCase>,
  {
    name: 'adamw.gradNormSquared',
    kernel: 'adamw',
    arb: normCase,
    gpu: (_rt: Runtime, xs: Tensor[], c: NormCase) => gradNormSquared(xs, c.params),
    ref: (c: NormCase) => gradNormSquaredRef(c.inputs.map((i) => i.data)),
    // A sum of non-negative terms: relative error <= (longest chain of f32 adds) * 2^-24; squares
    // below 2^-126 may flush to zero (atol).
    tol: (c: NormCase) => {
      const n = c.inputs.reduce((s, i) => s + i.data.length, 0);
      return {
        atol: n * 2 ** -126,
        rtol: (4 * SUM_ITEMS + 2 * Math.log2(WG) + 4 + n / (WG * SUM_ITEMS * 4 * WG)) * 6e-8,
      };
    },
  } satisfies OpSpec<NormCase>,
  {
    name: 'adamw.clipScale',
    kernel: 'adamw',
    arb: fc
      .tuple(fc.oneof(fc.float({ min: 0, max: 1e4, noNaN: true }), fc.constant(0)), fc.constantFrom(0.5, 1, 10))
      .map(([ns, maxNorm]): ClipCase => ({
        inputs: [{ name: 'normSq', shape: [1], data: Float32Array.of(ns), grad: false }],
        params: { maxNorm },
      })),
    gpu: (_rt: Runtime, [ns]: Tensor[], c: ClipCase) => clipScale(ns, c.params.maxNorm),
    ref: (c: ClipCase) => clipScaleRef(c.inputs[0].data[0], c.params.maxNorm),
    tol: () => ({ atol: 0, rtol: 1e-6 }),
  } satisfies OpSpec<ClipCase>,
];
