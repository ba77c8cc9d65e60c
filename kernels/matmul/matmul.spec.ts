// Property-test specs of matmul, linear and matmulInto (kernels/spec.ts): one matmul spec per
// kernel variant (forced through the device's kernel override, so GPU-only variants run on CPU
// adapters too), linear and accumulating matmulInto on the adapter's default variant.
import * as fc from 'fast-check';
import { empty } from '../../engine/tensor.ts';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s, halfBits, prod } from '../arb.ts';
import type { HalfKind } from '../half.ref.ts';
import { variantsOf } from '../variants.ts';
import { linear, matmul, matmulInto, matmulTile, type MatmulVariant } from './matmul.ts';
import {
  linearBackwardRef,
  linearRef,
  matmulBackwardRef,
  matmulDims,
  matmulRef,
  type MatmulDims,
} from './matmul.ref.ts';

type BatchMode = 'none' | 'equal' | 'sharedA' | 'sharedB';

/** The sizes every matmul case carries for its tolerance: output (batch, M, N), reduction length K. */
interface SizeCase extends OpCase {
  params: { M: number; N: number; K: number; batch: number };
}
interface MatmulCase extends SizeCase {
  params: SizeCase['params'] & { transA: boolean; transB: boolean; kind?: HalfKind };
}

/** Edge-heavy sizes around a kernel's tile: 1, primes, tile - 1, tile, tile + 1. */
const sizes = (tile: number) => fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 13, tile - 1, tile, tile + 1);

/** Gradient reduction lengths: dA sums over N, dB over M times the batch for a shared b, C over K. */
function matmulTol(c: SizeCase): { atol: number; rtol: number } {
  const { M, N, K, batch } = c.params;
  const L = Math.max(K, N, M * batch, 1);
  // |a|, |b| <= 2 and |g| <= 1: every partial sum is below 4L; f32 rounding error grows ~ eps*sqrt(L)
  // per partial sum in practice; 1e-6*4L leaves a wide margin and still catches any wrong index.
  return { atol: 4e-6 * L, rtol: 1e-5 };
}

function matmulCase(tile: number): fc.Arbitrary<MatmulCase> {
  return fc
    .record({
      M: sizes(tile),
      N: sizes(tile),
      K: sizes(tile),
      transA: fc.boolean(),
      transB: fc.boolean(),
      mode: fc.constantFrom<BatchMode>('none', 'equal', 'sharedA', 'sharedB'),
      lead: fc.constantFrom([2], [3], [2, 2]),
      // A quarter of the cases are whole tiles (M, N multiples of the tile, K of 4): the subgroup
      // kernel compiles those without edge code (FAST), and the sizes above seldom land there.
      whole: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
    })
    .map((p) =>
      p.whole
        ? { ...p, M: Math.ceil(p.M / tile) * tile, N: Math.ceil(p.N / tile) * tile, K: Math.ceil(p.K / 4) * 4 }
        : p,
    )
    .chain((p) => {
      const lead = p.mode === 'none' ? [] : p.lead;
      const aMat = p.transA ? [p.K, p.M] : [p.M, p.K];
      const bMat = p.transB ? [p.N, p.K] : [p.K, p.N];
      const aShape = p.mode === 'sharedA' ? aMat : [...lead, ...aMat];
      const bShape = p.mode === 'sharedB' ? bMat : [...lead, ...bMat];
      return fc.tuple(f32s(prod(aShape), -2, 2), f32s(prod(bShape), -2, 2)).map(([a, b]): MatmulCase => ({
        inputs: [
          { name: 'a', shape: aShape, data: a },
          { name: 'b', shape: bShape, data: b },
        ],
        params: { M: p.M, N: p.N, K: p.K, batch: prod(lead), transA: p.transA, transB: p.transB },
      }));
    });
}

const matmulSpec = (variant: MatmulVariant): OpSpec<MatmulCase> => ({
  name: `matmul.${variant}`,
  kernel: 'matmul',
  kernels: `matmul:${variant}`,
  arb: matmulCase(matmulTile(variant)),
  gpu: (_rt, [a, b], c) => matmul(a, b, { transA: c.params.transA, transB: c.params.transB }),
  ref: (c) =>
    matmulRef(
      c.inputs[0].data,
      c.inputs[0].shape,
      c.inputs[1].data,
      c.inputs[1].shape,
      c.params.transA,
      c.params.transB,
    ),
  refBackward: (c, g) =>
    matmulBackwardRef(
      c.inputs[0].data,
      c.inputs[0].shape,
      c.inputs[1].data,
      c.inputs[1].shape,
      g,
      c.params.transA,
      c.params.transB,
    ),
  tol: matmulTol,
});

/** linear on the device's default kernel: x (..., in) with 0-2 leading dims. */
const linearSpec: OpSpec<SizeCase> = {
  name: 'matmul.linear',
  kernel: 'matmul',
  arb: fc
    .record({ lead: fc.constantFrom([], [5], [2, 3], [1, 33]), inF: sizes(32), outF: sizes(32) })
    .chain(({ lead, inF, outF }) =>
      fc.tuple(f32s(prod(lead) * inF, -2, 2), f32s(outF * inF, -2, 2)).map(([x, w]): SizeCase => ({
        inputs: [
          { name: 'x', shape: [...lead, inF], data: x },
          { name: 'w', shape: [outF, inF], data: w },
        ],
        params: { M: prod(lead), N: outF, K: inF, batch: 1 },
      })),
    ),
  gpu: (_rt, [x, w]) => linear(x, w),
  ref: (c) => linearRef(c.inputs[0].data, c.inputs[1].data, c.inputs[1].shape),
  refBackward: (c, g) => linearBackwardRef(c.inputs[0].data, c.inputs[1].data, c.inputs[1].shape, g),
  tol: matmulTol,
};

/** matmulInto with accumulate: out = c0 + op(a) op(b) (forward only: matmulInto has no autograd). */
const intoSpec: OpSpec<MatmulCase> = {
  name: 'matmul.into',
  kernel: 'matmul',
  arb: matmulCase(32).chain((c) => {
    const { M, N, batch } = c.params;
    return f32s(batch * M * N, -2, 2).map((c0): MatmulCase => ({
      inputs: [...c.inputs, { name: 'c0', shape: [batch * M * N], data: c0, grad: false }],
      params: c.params,
    }));
  }),
  gpu: (rt, [a, b, c0], c) => {
    const d = matmulDims(a.shape, b.shape, c.params.transA, c.params.transB) as MatmulDims;
    const out = empty(rt, d.outShape, 'f32', 'into');
    rt.commandEncoder().copyBufferToBuffer(
      c0.buffer,
      c0.byteOffset,
      out.buffer,
      out.byteOffset,
      Math.max(4, c0.byteLength),
    );
    matmulInto(out, a, b, { transA: c.params.transA, transB: c.params.transB, accumulate: true });
    return out;
  },
  ref: (c) => {
    const p = matmulRef(
      c.inputs[0].data,
      c.inputs[0].shape,
      c.inputs[1].data,
      c.inputs[1].shape,
      c.params.transA,
      c.params.transB,
    );
    return p.map((v, i) => v + c.inputs[2].data[i]);
  },
  tol: matmulTol,
};

/**
 * A 16-bit weight B (frozen: no gradient), on each kernel; A's gradient is the dX = dY W path
 * (not for a transposed A, which matmul refuses).
 */
const matmulHalfSpec = (variant: MatmulVariant): OpSpec<MatmulCase> => ({
  name: `matmul.${variant}.half`,
  kernel: 'matmul',
  kernels: `matmul:${variant}`,
  arb: fc
    .tuple(matmulCase(matmulTile(variant)), fc.constantFrom<HalfKind>('bf16', 'f16'))
    .map(([c, kind]): MatmulCase => ({
      inputs: [
        { ...c.inputs[0], grad: !c.params.transA },
        { ...c.inputs[1], data: halfBits(c.inputs[1].data as Float32Array, kind), dtype: kind, grad: false },
      ],
      params: { ...c.params, kind },
    })),
  gpu: (_rt, [a, b], c) => matmul(a, b, { transA: c.params.transA, transB: c.params.transB }),
  ref: (c) =>
    matmulRef(
      c.inputs[0].data,
      c.inputs[0].shape,
      c.inputs[1].data,
      c.inputs[1].shape,
      c.params.transA,
      c.params.transB,
      c.params.kind,
    ),
  refBackward: (c, g) => [
    matmulBackwardRef(
      c.inputs[0].data,
      c.inputs[0].shape,
      c.inputs[1].data,
      c.inputs[1].shape,
      g,
      c.params.transA,
      c.params.transB,
      c.params.kind,
    )[0],
    null,
  ],
  tol: matmulTol,
});

export const matmulSpecs: OpSpec[] = [
  ...variantsOf('matmul').map(matmulSpec),
  linearSpec,
  intoSpec,
  ...variantsOf('matmul').map(matmulHalfSpec),
];
