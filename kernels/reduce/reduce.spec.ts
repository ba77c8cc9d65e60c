// Property-test specs of sum, mean and max over an axis (kernels/spec.ts).
import * as fc from 'fast-check';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s, prod } from '../arb.ts';
import { reduceBackwardRef, reduceRef } from './reduce.ref.ts';
import { reduce } from './reduce.ts';

interface ReduceCase extends OpCase {
  params: { axis: number };
}

const caseArb = fc
  .array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 })
  .chain((shape) =>
    fc
      .tuple(f32s(prod(shape), -8, 8), fc.integer({ min: 0, max: shape.length - 1 }))
      .map(([x, axis]): ReduceCase => ({ inputs: [{ name: 'x', shape, data: x }], params: { axis } })),
  );

export const reduceSpecs: OpSpec[] = (['sum', 'mean', 'max'] as const).map((op): OpSpec<ReduceCase> => ({
  name: `reduce.${op}`,
  kernel: 'reduce',
  arb: caseArb,
  gpu: (_rt, [x], c) => reduce(op, x, c.params.axis),
  ref: (c) => reduceRef(op, c.inputs[0].data, c.inputs[0].shape, c.params.axis),
  refBackward: (c, g) => [reduceBackwardRef(op, c.inputs[0].data, c.inputs[0].shape, c.params.axis, g)],
  tol: (c) => ({ atol: 1e-5 * c.inputs[0].shape[c.params.axis], rtol: 1e-5 }),
  noFiniteDiff: op === 'max',
}));
