// Elementwise ops: add/sub/mul/div with NumPy broadcasting (rank <= 4), unary maps, scale, and
// in-place y += alpha*x (gradient accumulation). Backward of a broadcast input sums the gradient
// over the broadcast dims (sumToShape, kernels/reduce).
import type { Runtime } from '../../engine/runtime.ts';
import { empty, shapeStr, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { EngineError } from '../../engine/errors.ts';
import { Uniforms, checkDtype, grid1d, rowsPerChunk, rowsView, sameShape } from '../util.ts';
import { sumToShape } from '../reduce/reduce.ts';
import { kernelPlan } from '../variants.ts';
import { broadcastShape, broadcastStrides, type BinaryOp, type UnaryOp } from './elementwise.ref.ts';

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
  return [...new Array<number>(4 - v.length).fill(fillv), ...v];
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
  // Same shapes and a multiple of 4 floats: 4 per invocation (binary4).
  const v4 = !bc && out.size % 4 === 0;
  const n = v4 ? out.size / 4 : out.size;
  const u = new Uniforms()
    .u32(n)
    .f32(0)
    .f32(0)
    .u32(0)
    .vec4u(pad4(shape, 1))
    .vec4u(pad4(broadcastStrides(a.shape, shape), 0))
    .vec4u(pad4(broadcastStrides(b.shape, shape), 0));
  const k = v4
    ? rt.kernel(WGSL, 'binary4', { OP: BIN[op], WG })
    : rt.kernel(WGSL, 'binary', { OP: BIN[op], WG, BROADCAST: bc });
  rt.run(k, { uniforms: u.bytes(), bindings: [a, b, out], grid: grid1d(Math.ceil(n / WG)) });
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
  // Flat ranges that fit one binding (a gradient of a big embedding is larger than one).
  const chunk = rowsPerChunk('axpy', y, y.size, 4);
  const flat = (t: Tensor) => (chunk >= y.size ? t : t.view([t.size]));
  const xf = flat(x),
    yf = flat(y);
  for (let i0 = 0; i0 < y.size; i0 += chunk) {
    const i1 = Math.min(y.size, i0 + chunk);
    const xs = chunk >= y.size ? xf : rowsView(xf, i0, i1);
    const ys = chunk >= y.size ? yf : rowsView(yf, i0, i1);
    const v4 = (i1 - i0) % 4 === 0; // 4 floats per invocation (axpy4)
    const n = v4 ? (i1 - i0) / 4 : i1 - i0;
    const u = new Uniforms().u32(n).f32(alpha).f32(0).u32(0);
    rt.run(rt.kernel(WGSL, v4 ? 'axpy4' : 'axpy', { WG }), {
      uniforms: u.bytes(),
      bindings: [xs, ys],
      grid: grid1d(Math.ceil(n / WG)),
    });
    if (xs !== xf) [xs, ys].forEach((t) => t.dispose());
  }
  if (xf !== x) [xf, yf].forEach((t) => t.dispose());
}

/**
 * Ready a runtime for the ops: the gradient-accumulation hooks the engine's autograd calls, and the
 * kernel-variant plan checked now (a bad DLLM_WGPU_KERNELS / `kernels` override fails here, before
 * any work, rather than at the first launch of the op it names).
 */
export function installHooks(rt: Runtime): void {
  kernelPlan(rt);
  rt.accumulate = (dst, src) => axpyInPlace(dst, src, 1);
  rt.add = add;
}
