// Property-test specs of fused softmax cross-entropy (kernels/spec.ts): vocabularies around the vec4
// and lane edges, ignored and out-of-range targets, large logits, random lanes per row.
import * as fc from 'fast-check';
import type { Runtime } from '../../engine/runtime.ts';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s } from '../arb.ts';
import { xentBackwardRef, xentRef, xentRowsRef } from './softmax-xent.ref.ts';
import { softmaxCrossEntropyRows, softmaxCrossEntropy } from './softmax-xent.ts';

interface XentCase extends OpCase {
  params: { n: number; v: number; mag: number; lanes?: number };
}

const vocab = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 300 }) },
  { weight: 3, arbitrary: fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 31, 32, 33, 127, 128, 129, 251, 256, 257) },
  { weight: 1, arbitrary: fc.constant(2048) },
);
const weight = fc.oneof(fc.constant(0), fc.constant(1), fc.float({ min: 0, max: 3, noNaN: true }).map(Math.fround));

const xentCase: fc.Arbitrary<XentCase> = fc
  .record({
    n: fc.integer({ min: 1, max: 9 }),
    v: vocab,
    mag: fc.constantFrom(4, 4, 30, 1e4),
    lanes: fc.constantFrom(undefined, undefined, 1, 4, 32, 256),
  })
  .chain(({ n, v, mag, lanes }) =>
    fc
      .tuple(
        f32s(n * v, -mag, mag),
        fc.array(
          fc.oneof(
            { weight: 5, arbitrary: fc.integer({ min: 0, max: v - 1 }) },
            { weight: 1, arbitrary: fc.constant(-1) },
          ),
          { minLength: n, maxLength: n },
        ),
        fc.array(weight, { minLength: n, maxLength: n }),
      )
      .map(([x, t, w]) => ({
        inputs: [
          { name: 'logits', shape: [n, v], data: x },
          { name: 'targets', shape: [n], data: Int32Array.from(t), dtype: 'i32' as const },
          { name: 'weights', shape: [n], data: Float32Array.from(w), grad: false },
        ],
        params: { n, v, mag, lanes },
      })),
  );

const data = (c: XentCase) => [c.inputs[0].data, c.inputs[1].data, c.inputs[2].data, c.params.n, c.params.v] as const;
const wsum = (c: XentCase) => Array.from(c.inputs[2].data).reduce((s, w) => s + w, 0);

// Each row's loss: (m - x[t]) rounds to 2^-24 relative (rtol); log(s) carries the f32 rounding of
// a V-term sum of exps, allowed V * 6e-9 per unit weight (the V * 2^-24 worst case assumes every
// rounding goes one way; over 200 cases the worst error was an eighth of this tolerance).
const fwdTol = (c: XentCase) => ({ atol: (1 + wsum(c)) * (2e-7 + 6e-9 * c.params.v), rtol: 1e-6 });
// dlogits = g w (p - onehot), |g| <= 1, w <= 3: p = exp(f32 argument) and the same log(s).
const gradTol = (c: XentCase) => ({ atol: 3 * (2e-7 + 6e-9 * c.params.v), rtol: 1e-6 });

export const softmaxXentSpecs: OpSpec<XentCase>[] = [
  {
    name: 'softmax-xent.sum',
    kernel: 'softmax-xent',
    arb: xentCase,
    gpu: (_rt: Runtime, [x, t, w], c) => softmaxCrossEntropy(x, t, w, { lanes: c.params.lanes }),
    ref: (c) => xentRef(...data(c)),
    refBackward: (c, g) => [xentBackwardRef(...data(c), g), null, null],
    tol: fwdTol,
    gradTol,
  },
  {
    name: 'softmax-xent.rows',
    kernel: 'softmax-xent',
    arb: xentCase,
    gpu: (_rt: Runtime, [x, t, w], c) => softmaxCrossEntropyRows(x, t, w, { lanes: c.params.lanes }),
    ref: (c) => xentRowsRef(...data(c)),
    refBackward: (c, g) => [xentBackwardRef(...data(c), g), null, null],
    tol: fwdTol,
    gradTol,
  },
];
