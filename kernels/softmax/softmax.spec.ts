// Property-test spec of softmax over the last axis (kernels/spec.ts): rows around the per-row and
// per-workgroup switch, up to a vocabulary.
import * as fc from 'fast-check';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s } from '../arb.ts';
import { softmaxBackwardRef, softmaxRef } from './softmax.ref.ts';
import { softmax } from './softmax.ts';

const EPS32 = 2 ** -23;
// Row lengths around the rows/workgroup switch (ROW_MAX), the workgroup size, and a vocabulary.
const rowLen = fc.oneof(
  fc.integer({ min: 1, max: 9 }),
  fc.constantFrom(1, 2, 13, 63, 64, 65, 127, 128, 129, 1021, 1024),
  fc.constantFrom(1031, 2052, 32000), // the workgroup paths: scalar, vec4, a vocabulary
);

const softmaxArb = fc
  .tuple(
    rowLen,
    fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 0, maxLength: 2 }),
    fc.integer({ min: 0, max: 4 }),
  )
  .chain(([n, lead, big]) => {
    // Long rows get few of them; `big` == 0 is the overflow case (|x| up to 1000: exp overflows
    // without the max subtraction).
    const outer = n > 1000 ? [lead.length ? 1 : 2] : lead;
    const shape = [...outer, n];
    const lim = big === 0 ? 1000 : 8;
    return f32s(
      shape.reduce((p, d) => p * d, 1),
      -lim,
      lim,
    ).map((x): OpCase => ({ inputs: [{ name: 'x', shape, data: x }] }));
  });

/** exp has 3 + 2|x| ulp in WGSL, x - max is exact to ~range·eps, and the sum adds ~sqrt(n)·eps. */
function softmaxTol(c: OpCase) {
  const x = c.inputs[0].data;
  let lo = Infinity,
    hi = -Infinity;
  for (const v of x) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const n = c.inputs[0].shape[c.inputs[0].shape.length - 1];
  const rtol = 1e-5 + EPS32 * (4 * (hi - lo) + 4 * Math.sqrt(n));
  return { atol: 1e-9, rtol };
}

export const softmaxSpecs: OpSpec[] = [
  {
    name: 'softmax',
    kernel: 'softmax',
    arb: softmaxArb,
    gpu: (_rt, [x]) => softmax(x, -1),
    ref: (c) => {
      const s = c.inputs[0].shape;
      return softmaxRef(c.inputs[0].data, s[s.length - 1]);
    },
    refBackward: (c, g) => {
      const s = c.inputs[0].shape;
      return [softmaxBackwardRef(c.inputs[0].data, s[s.length - 1], g)];
    },
    tol: softmaxTol,
    // dx = y (dy - dot): the dot's error (~sqrt(n)·eps) is absolute, scaled by y <= 1.
    gradTol: (c) => {
      const t = softmaxTol(c);
      return { atol: t.rtol / 2, rtol: t.rtol };
    },
  },
];
