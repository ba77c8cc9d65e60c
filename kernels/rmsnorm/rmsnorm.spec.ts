// Property-test specs of RMSNorm (kernels/spec.ts): ordinary, tiny and huge magnitudes over odd and
// tile-edge widths, on each row layout (forced through the device's kernel override; the adapter's
// default is one of them).
import * as fc from 'fast-check';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s, prod } from '../arb.ts';
import { rmsnormBackwardRef, rmsnormRef } from './rmsnorm.ref.ts';
import { variantsOf } from '../variants.ts';
import { rmsnorm, type RmsnormLayout } from './rmsnorm.ts';

// C: small, primes, and one side of the 64-lane tile; rows 1-10 over 1-3 leading axes.
const cArb = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(1, 2, 7, 13, 31, 37, 63, 64, 65));
const leadArb = fc.oneof(
  fc.integer({ min: 1, max: 10 }).map((r) => [r]),
  fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })).map(([a, b]) => [a, b]),
);
// Magnitudes: ordinary, tiny (eps dominates) and large (x^2 near 1e30, still finite in f32).
const magArb = fc.constantFrom(1, 1, 1e-3, 1e14);

interface RmsnormCase extends OpCase {
  params: { eps: number };
}

const caseArb = fc.tuple(cArb, leadArb, magArb, fc.constantFrom(1e-5, 1e-6)).chain(([c, lead, mag, eps]) =>
  fc.tuple(f32s(prod(lead) * c), f32s(c, -2, 2)).map(([x, w]): RmsnormCase => ({
    inputs: [
      { name: 'x', shape: [...lead, c], data: mag === 1 ? x : x.map((v) => Math.fround(v * mag)) },
      { name: 'weight', shape: [c], data: w },
    ],
    params: { eps },
  })),
);

// y = x r w with |x r| <= sqrt(C): f32 rounding of the sum of squares is relative ~C * 2^-24.
const tol = (c: RmsnormCase) => {
  const n = c.inputs[1].shape[0];
  return { atol: 2e-6 * Math.sqrt(n), rtol: 1e-5 + 2e-7 * n };
};
// dx carries r = 1/rms per row, up to 1/sqrt(eps) for tiny rows; dw sums up to `rows` terms of
// size <= sqrt(C). Scale atol by the larger of the two.
const gradTol = (c: RmsnormCase) => {
  const n = c.inputs[1].shape[0];
  const x = c.inputs[0].data;
  const rows = x.length / n;
  let rmax = 1;
  for (let i = 0; i < rows; i++) {
    let ms = 0;
    for (let j = 0; j < n; j++) ms += x[i * n + j] * x[i * n + j];
    rmax = Math.max(rmax, 1 / Math.sqrt(ms / n + c.params.eps));
  }
  return { atol: 1e-5 * Math.sqrt(n) * Math.max(rmax, rows), rtol: 1e-4 + 1e-6 * n };
};

const spec = (layout: RmsnormLayout): OpSpec<RmsnormCase> => ({
  name: `rmsnorm.${layout}`,
  kernel: 'rmsnorm',
  kernels: `rmsnorm:${layout}`,
  arb: caseArb,
  gpu: (_rt, [x, w], c) => rmsnorm(x, w, c.params.eps),
  ref: (c) => rmsnormRef(c.inputs[0].data, c.inputs[1].data, c.inputs[1].shape[0], c.params.eps),
  refBackward: (c, g) => rmsnormBackwardRef(c.inputs[0].data, c.inputs[1].data, c.inputs[1].shape[0], c.params.eps, g),
  tol,
  gradTol,
});

/** One spec per row layout (the adapter's default is one of them). */
export const rmsnormSpecs: OpSpec[] = variantsOf('rmsnorm').map(spec);
