// Property-test specs of the elementwise ops (kernels/spec.ts): broadcasting binary ops over rank 1-4
// shapes, the unary maps and scale, and axpy (the in-place gradient accumulation) on flat lengths
// that are and are not multiples of 4 (its vec4 and scalar entry points).
import * as fc from 'fast-check';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s } from '../arb.ts';
import {
  binaryBackwardRef,
  binaryRef,
  unaryBackwardRef,
  unaryRef,
  type BinaryOp,
  type UnaryOp,
} from './elementwise.ref.ts';
import { axpyInPlace, binary, unary } from './elementwise.ts';

const dim = fc.integer({ min: 1, max: 7 });
const vals = f32s;

/** Random broadcast-compatible pair of shapes of rank 1..4. */
const shapePair = fc
  .tuple(
    fc.array(dim, { minLength: 1, maxLength: 4 }),
    fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    fc.integer({ min: 0, max: 3 }),
  )
  .map(([shape, ones, drop]) => {
    const b = shape.map((d, i) => (ones[i] ? 1 : d)).slice(Math.min(drop, shape.length - 1));
    return [shape, b] as const;
  });

const binCase = (op: BinaryOp) =>
  shapePair.chain(([sa, sb]) => {
    const na = sa.reduce((p, d) => p * d, 1);
    const nb = sb.reduce((p, d) => p * d, 1);
    const lo = op === 'div' ? 0.5 : -4;
    return fc.tuple(vals(na), vals(nb, lo, 4), fc.boolean()).map(([a, b, swap]): OpCase => ({
      inputs: swap
        ? [
            { name: 'a', shape: [...sb], data: b },
            { name: 'b', shape: [...sa], data: a },
          ]
        : [
            { name: 'a', shape: [...sa], data: a },
            { name: 'b', shape: [...sb], data: b },
          ],
      params: { op },
    }));
  });

export const binarySpecs: OpSpec[] = (['add', 'sub', 'mul', 'div'] as const).map((op) => ({
  name: `elementwise.${op}`,
  kernel: 'elementwise',
  arb:
    op === 'div'
      ? // keep divisors away from 0: the swap would otherwise put a signed input in the denominator
        binCase(op).map((c) => ({
          ...c,
          inputs: c.inputs.map((x, i) =>
            i === 1 ? { ...x, data: Float32Array.from(x.data, (v) => (Math.abs(v) < 0.5 ? 0.5 + Math.abs(v) : v)) } : x,
          ),
        }))
      : binCase(op),
  gpu: (_rt, [a, b]) => binary(op, a, b),
  ref: (c) => binaryRef(op, c.inputs[0].data, c.inputs[0].shape, c.inputs[1].data, c.inputs[1].shape),
  refBackward: (c, g) =>
    binaryBackwardRef(op, c.inputs[0].data, c.inputs[0].shape, c.inputs[1].data, c.inputs[1].shape, g),
  tol: () => ({ atol: 1e-5, rtol: 1e-5 }),
  gradTol: () => ({ atol: 1e-4, rtol: 1e-4 }),
}));

const unaryDomain: Partial<Record<UnaryOp, [number, number]>> = {
  log: [0.1, 8],
  sqrt: [0.1, 8],
  rsqrt: [0.1, 8],
  exp: [-8, 8],
};
interface UnaryCase extends OpCase {
  params: { alpha: number };
}

export const unarySpecs: OpSpec[] = (['scale', 'exp', 'log', 'neg', 'sqrt', 'rsqrt', 'square'] as const).map(
  (op): OpSpec<UnaryCase> => ({
    name: `elementwise.${op}`,
    kernel: 'elementwise',
    arb: fc.array(dim, { minLength: 1, maxLength: 3 }).chain((shape) =>
      fc
        .tuple(
          vals(
            shape.reduce((p, d) => p * d, 1),
            ...(unaryDomain[op] ?? [-4, 4]),
          ),
          fc.float({ min: -3, max: 3, noNaN: true }),
        )
        .map(([x, alpha]): UnaryCase => ({
          inputs: [{ name: 'x', shape, data: x }],
          params: { alpha: Math.fround(alpha) },
        })),
    ),
    gpu: (_rt, [x], c) => unary(op, x, c.params.alpha, 0.25),
    ref: (c) => unaryRef(op, c.inputs[0].data, c.params.alpha, 0.25),
    refBackward: (c, g) => [unaryBackwardRef(op, c.inputs[0].data, g, c.params.alpha)],
    tol: () => ({ atol: 1e-5, rtol: 2e-5 }),
    gradTol: () => ({ atol: 1e-4, rtol: 1e-4 }),
  }),
);

export const axpySpec: OpSpec<UnaryCase> = {
  name: 'elementwise.axpy',
  kernel: 'elementwise',
  arb: fc.integer({ min: 1, max: 600 }).chain((n) =>
    fc.tuple(vals(n), vals(n), fc.float({ min: -3, max: 3, noNaN: true })).map(([y, x, alpha]): UnaryCase => ({
      inputs: [
        { name: 'y', shape: [n], data: y },
        { name: 'x', shape: [n], data: x },
      ],
      params: { alpha: Math.fround(alpha) },
    })),
  ),
  gpu: (_rt, [y, x], c) => {
    const out = unary('scale', y, 1, 0); // a copy: axpy writes in place
    axpyInPlace(out, x, c.params.alpha);
    return out;
  },
  ref: (c) => c.inputs[0].data.map((y, i) => y + c.params.alpha * c.inputs[1].data[i]),
  tol: () => ({ atol: 1e-5, rtol: 1e-5 }),
};
