// Reductions over an axis (sum, mean, max; keepdims optional) and sumToShape, the reverse of
// broadcasting used by elementwise backward. One invocation per output element: fine for the
// model's small reductions; the big ones (vocabulary softmax, losses) have fused kernels.
import { empty, shapeStr, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { EngineError } from '../../engine/errors.ts';
import { Uniforms, checkDtype, grid1d } from '../util.ts';
import { splitAxis, type ReduceOp } from './reduce.ref.ts';

import WGSL from './reduce.wgsl.ts';
const WG = 64;

function normAxis(op: string, x: Tensor, axis: number): number {
  const a = axis < 0 ? axis + x.rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= x.rank)
    throw new EngineError(`${op}: axis ${axis} out of range for ${shapeStr(x.shape)}`);
  return a;
}

export function reduce(op: ReduceOp, x: Tensor, axis: number, keepDims = false): Tensor {
  checkDtype(op, x, 'f32');
  const ax = normAxis(op, x, axis);
  const [outer, n, inner] = splitAxis(x.shape, ax);
  const shape = keepDims ? x.shape.map((d, i) => (i === ax ? 1 : d)) : x.shape.filter((_, i) => i !== ax);
  const rt = x.rt;
  const out = empty(rt, shape, 'f32', op);
  const u = new Uniforms()
    .u32(outer)
    .u32(n)
    .u32(inner)
    .f32(op === 'mean' ? 1 / n : 1);
  rt.run(rt.kernel(WGSL, 'reduce_axis', { OP: op === 'max' ? 1 : 0, WG }), {
    uniforms: u.bytes(),
    bindings: [x, out],
    grid: grid1d(Math.ceil((outer * inner) / WG)),
  });
  return record(op, out, [x], (g) => {
    const gx = empty(rt, x.shape, 'f32', `${op}_bwd`);
    const total = outer * n * inner;
    if (op === 'max') {
      const uu = new Uniforms().u32(outer).u32(n).u32(inner).f32(1);
      rt.run(rt.kernel(WGSL, 'max_bwd', { WG }), {
        uniforms: uu.bytes(),
        bindings: [x, out, g, gx],
        grid: grid1d(Math.ceil(total / WG)),
      });
    } else {
      const uu = new Uniforms()
        .u32(outer)
        .u32(n)
        .u32(inner)
        .f32(op === 'mean' ? 1 / n : 1);
      rt.run(rt.kernel(WGSL, 'expand_axis', { WG }), {
        uniforms: uu.bytes(),
        bindings: [g, gx],
        grid: grid1d(Math.ceil(total / WG)),
      });
    }
    return [gx];
  });
}

export const sum = (x: Tensor, axis: number, keepDims = false) => reduce('sum', x, axis, keepDims);
export const mean = (x: Tensor, axis: number, keepDims = false) => reduce('mean', x, axis, keepDims);
export const max = (x: Tensor, axis: number, keepDims = false) => reduce('max', x, axis, keepDims);

/** Sum `g` down to `shape` (undo NumPy broadcasting). Returns `g` itself when shapes match. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  if (lead < 0) throw new EngineError(`sumToShape: cannot reduce ${shapeStr(g.shape)} to ${shapeStr(shape)}`);
  let cur = g;
  if (lead > 0) {
    const rest = g.shape.slice(lead);
    cur = sum(g.view([g.shape.slice(0, lead).reduce((p, d) => p * d, 1), ...rest]), 0);
  }
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1 && cur.shape[i] !== 1) cur = sum(cur, i, true);
    else if (shape[i] !== cur.shape[i])
      throw new EngineError(`sumToShape: cannot reduce ${shapeStr(g.shape)} to ${shapeStr(shape)}`);
  }
  return cur;
}
