// Property-test spec of SwiGLU (kernels/spec.ts): gates past exp's f32 overflow included.
import * as fc from 'fast-check';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s, prod } from '../arb.ts';
import { swigluBackwardRef, swigluRef } from './swiglu.ref.ts';
import { swiglu } from './swiglu.ts';

// gate magnitudes: ordinary, past exp's f32 overflow (|g| > 88.7) and far past it.
const magArb = fc.constantFrom(1, 1, 30, 1000);

const caseFor = (shapeArb: fc.Arbitrary<number[]>) =>
  fc.tuple(shapeArb, magArb).chain(([shape, mag]) =>
    fc.tuple(f32s(prod(shape)), f32s(prod(shape))).map(([g, up]): OpCase => ({
      inputs: [
        { name: 'gate', shape, data: mag === 1 ? g : g.map((v) => Math.fround(v * mag)) },
        { name: 'up', shape, data: up },
      ],
    })),
  );

// Element counts that are a multiple of 4 (vec4 path): rows x 4k, incl. 4 (one vec4) and 64+-4.
const vec4Shape = fc
  .tuple(fc.integer({ min: 1, max: 10 }), fc.constantFrom(1, 2, 3, 5, 7, 10, 15, 16, 17))
  .map(([r, k]) => [r, 4 * k]);
// Counts that are not (scalar path): odd rows x odd widths, incl. 1 and primes.
const oddShape = fc
  .tuple(fc.constantFrom(1, 3, 5, 7, 9), fc.constantFrom(1, 3, 5, 7, 13, 31, 37, 39))
  .map(([r, c]) => [r, c]);

// exp in WGSL is accurate to 3 + 2|x| ulp; sigmoid damps that to a few e-6 relative. Large-|g|
// cases saturate (exp underflows to 0), where the result is exact up to the products.
const spec = (name: string, shapeArb: fc.Arbitrary<number[]>): OpSpec => ({
  name,
  kernel: 'swiglu',
  arb: caseFor(shapeArb),
  gpu: (_rt, [g, up]) => swiglu(g, up),
  ref: (c) => swigluRef(c.inputs[0].data, c.inputs[1].data),
  refBackward: (c, dy) => swigluBackwardRef(c.inputs[0].data, c.inputs[1].data, dy),
  tol: () => ({ atol: 1e-6, rtol: 2e-5 }),
  gradTol: () => ({ atol: 2e-6, rtol: 4e-5 }),
});

export const swigluSpecs: OpSpec[] = [spec('swiglu.vec4', vec4Shape), spec('swiglu.scalar', oddShape)];
