// Elementwise ops: add/sub/mul/div with NumPy broadcasting (rank <= 4), unary maps, scale, and
// in-place y += alpha*x (gradient accumulation). Backward of a broadcast input sums the gradient
// over the broadcast dims (sumToShape, kernels/reduce).
import * as fc from 'fast-check';
import type { Runtime } from '../../engine/runtime.ts';
import { empty, shapeStr, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { EngineError } from '../../engine/errors.ts';
import { Uniforms, checkDtype, grid1d, sameShape } from '../util.ts';
import { sumToShape } from '../reduce/reduce.ts';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s } from '../arb.ts';
import {
  binaryBackwardRef,
  binaryRef,
  broadcastShape,
  broadcastStrides,
  unaryBackwardRef,
  unaryRef,
  type BinaryOp,
  type UnaryOp,
} from './elementwise.ref.ts';

import WGSL from './elementwise.wgsl.ts';
const WG = 64;
const BIN: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3 };
const UN: Record<UnaryOp, number> = {
  scale: 0,
  exp: 1,
  log: 2,
  neg: 3,
  sqrt: 4,
  rsqrt: 5,
  square: 6,
  relu: 7,
  silu: 8,
};

function pad4(v: readonly number[], fillv: number): number[] {
  return [...new Array(4 - v.length).fill(fillv), ...v];
}

export function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  checkDtype(op, a, 'f32');
  checkDtype(op, b, 'f32');
  const shape = broadcastShape(a.shape, b.shape);
  if (!shape || shape.length > 4) {
    throw new EngineError(`${op}: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} do not broadcast (rank <= 4)`);
  }
  const rt = a.rt;
  const out = empty(rt, shape, 'f32', op);
  const bc = !(sameShape(a.shape, shape) && sameShape(b.shape, shape));
  const u = new Uniforms()
    .u32(out.size)
    .f32(0)
    .f32(0)
    .u32(0)
    .vec4u(pad4(shape, 1))
    .vec4u(pad4(broadcastStrides(a.shape, shape), 0))
    .vec4u(pad4(broadcastStrides(b.shape, shape), 0));
  const k = rt.kernel(WGSL, 'binary', { OP: BIN[op], WG, BROADCAST: bc });
  rt.run(k, { uniforms: u.bytes(), bindings: [a, b, out], grid: grid1d(Math.ceil(out.size / WG)) });
  return record(op, out, [a, b], (g) => {
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) {
      const full = op === 'add' || op === 'sub' ? g : op === 'mul' ? binary('mul', g, b) : binary('div', g, b);
      ga = sumToShape(full, a.shape);
    }
    if (b.requiresGrad) {
      let full: Tensor;
      if (op === 'add') full = g;
      else if (op === 'sub') full = scale(g, -1);
      else if (op === 'mul') full = binary('mul', g, a);
      else full = scale(binary('div', binary('mul', g, a), binary('mul', b, b)), -1);
      gb = sumToShape(full, b.shape);
    }
    return [ga, gb];
  });
}

export const add = (a: Tensor, b: Tensor) => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor) => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor) => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor) => binary('div', a, b);

export function unary(op: UnaryOp, x: Tensor, alpha = 1, beta = 0): Tensor {
  checkDtype(op, x, 'f32');
  const rt = x.rt;
  const out = empty(rt, x.shape, 'f32', op);
  const u = new Uniforms().u32(x.size).f32(alpha).f32(beta).u32(0);
  rt.run(rt.kernel(WGSL, 'unary', { OP: UN[op], WG }), {
    uniforms: u.bytes(),
    bindings: [x, out],
    grid: grid1d(Math.ceil(x.size / WG)),
  });
  return record(op, out, [x], (g) => {
    switch (op) {
      case 'scale':
        return [scale(g, alpha)];
      case 'neg':
        return [scale(g, -1)];
      case 'exp':
        return [mul(g, out)];
      case 'log':
        return [div(g, x)];
      case 'sqrt':
        return [div(scale(g, 0.5), out)];
      case 'rsqrt':
        return [mul(g, scale(mul(out, mul(out, out)), -0.5))];
      case 'square':
        return [mul(g, scale(x, 2))];
      default:
        throw new EngineError(`${op}: backward not implemented (use the fused op)`);
    }
  });
}

export const scale = (x: Tensor, alpha: number, beta = 0) => unary('scale', x, alpha, beta);
export const exp = (x: Tensor) => unary('exp', x);

/** y += alpha * x, in place, no autograd (gradient accumulation, optimizer helpers). */
export function axpyInPlace(y: Tensor, x: Tensor, alpha = 1): void {
  checkDtype('axpy', y, 'f32');
  checkDtype('axpy', x, 'f32');
  if (x.size !== y.size) throw new EngineError(`axpy: ${x} and ${y} differ in size`);
  const rt = y.rt;
  const u = new Uniforms().u32(y.size).f32(alpha).f32(0).u32(0);
  rt.run(rt.kernel(WGSL, 'axpy', { WG }), {
    uniforms: u.bytes(),
    bindings: [x, y],
    grid: grid1d(Math.ceil(y.size / WG)),
  });
}

export function installHooks(rt: Runtime): void {
  rt.accumulate = (dst, src) => axpyInPlace(dst, src, 1);
  rt.add = add;
}

// ---- property-test specs ----------------------------------------------------------------------

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
export const unarySpecs: OpSpec[] = (['scale', 'exp', 'log', 'neg', 'sqrt', 'rsqrt', 'square'] as const).map((op) => ({
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
      .map(([x, alpha]): OpCase => ({
        inputs: [{ name: 'x', shape, data: x }],
        params: { alpha: Math.fround(alpha) },
      })),
  ),
  gpu: (_rt, [x], c) => unary(op, x, c.params.alpha, 0.25),
  ref: (c) => unaryRef(op, c.inputs[0].data, c.params.alpha, 0.25),
  refBackward: (c, g) => [unaryBackwardRef(op, c.inputs[0].data, g, c.params.alpha)],
  tol: () => ({ atol: 1e-5, rtol: 2e-5 }),
  gradTol: () => ({ atol: 1e-4, rtol: 1e-4 }),
}));
