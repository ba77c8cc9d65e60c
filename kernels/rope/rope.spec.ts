// Property-test spec of rotary position embedding (kernels/spec.ts).
import * as fc from 'fast-check';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s, prod } from '../arb.ts';
import { ropeRef } from './rope.ref.ts';
import { rope } from './rope.ts';

interface RopeCase extends OpCase {
  params: { theta: number; positions: number | number[] };
}

const caseArb = fc
  .record({
    b: fc.integer({ min: 1, max: 2 }),
    t: fc.integer({ min: 1, max: 12 }),
    h: fc.integer({ min: 1, max: 3 }),
    half: fc.integer({ min: 1, max: 8 }),
    theta: fc.constantFrom(10000, 500000),
    posKind: fc.constantFrom('offset', 'shared', 'perBatch'),
  })
  .chain(({ b, t, h, half, theta, posKind }) => {
    const shape = [b, t, h, 2 * half];
    const posArb: fc.Arbitrary<number | number[]> =
      posKind === 'offset'
        ? fc.integer({ min: 0, max: 100 })
        : fc.array(fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 4095 })), {
            minLength: posKind === 'shared' ? t : b * t,
            maxLength: posKind === 'shared' ? t : b * t,
          });
    return fc.tuple(f32s(prod(shape)), posArb).map(([x, positions]): RopeCase => ({
      inputs: [{ name: 'x', shape, data: x }],
      params: { theta, positions },
    }));
  });

const positionsOf = (c: RopeCase) =>
  typeof c.params.positions === 'number' ? c.params.positions : Int32Array.from(c.params.positions);

export const ropeSpecs: OpSpec<RopeCase>[] = [
  {
    name: 'rope',
    kernel: 'rope',
    arb: caseArb,
    gpu: (_rt, [x], c) => rope(x, { theta: c.params.theta, positions: positionsOf(c) }),
    ref: (c) => ropeRef(c.inputs[0].data, c.inputs[0].shape, c.params.theta, c.params.positions),
    refBackward: (c, g) => [ropeRef(g, c.inputs[0].shape, c.params.theta, c.params.positions, -1)],
    // Two products of |x| <= 4 with cos/sin rounded to f32 (half an ulp each) and one f32 add.
    tol: () => ({ atol: 3e-6, rtol: 1e-5 }),
  },
];
