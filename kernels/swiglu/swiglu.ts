// SwiGLU launcher, autograd and property spec: swiglu(gate, up) = silu(gate) * up elementwise, the
// activation of LLaDA's MLP (GSAI-ML/LLaDA modeling_llada.py LLaDALlamaBlock). Kernel and formulas
// in swiglu.wgsl; vec4 entry points when the element count is a multiple of 4. Not here:
// broadcasting (same shapes only) or fusing the surrounding matmuls.
import * as fc from 'fast-check';
import { empty, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { Uniforms, checkDtype, fail, grid1d, sameShape } from '../util.ts';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s, prod } from '../arb.ts';
import { swigluBackwardRef, swigluRef } from './swiglu.ref.ts';

import WGSL from './swiglu.wgsl.ts';
const WG = 64;

export function swiglu(gate: Tensor, up: Tensor): Tensor {
  const op = 'swiglu';
  checkDtype(op, gate, 'f32');
  checkDtype(op, up, 'f32');
  if (!sameShape(gate.shape, up.shape)) fail(op, 'gate and up must have the same shape', gate, up);
  const rt = gate.rt;
  const n = gate.size;
  const vec4 = n % 4 === 0;
  const units = vec4 ? n / 4 : n;
  const u = new Uniforms().u32(units).bytes();
  const grid = grid1d(Math.ceil(units / WG));
  const out = empty(rt, gate.shape, 'f32', op);
  if (n > 0)
    rt.run(rt.kernel(WGSL, vec4 ? 'swiglu_fwd4' : 'swiglu_fwd', { WG }), {
      uniforms: u,
      bindings: [gate, up, out],
      grid,
    });
  return record(op, out, [gate, up], (dy) => {
    const dg = empty(rt, gate.shape, 'f32', 'swiglu_bwd.gate');
    const du = empty(rt, gate.shape, 'f32', 'swiglu_bwd.up');
    if (n > 0)
      rt.run(rt.kernel(WGSL, vec4 ? 'swiglu_bwd4' : 'swiglu_bwd', { WG }), {
        uniforms: u,
        bindings: [gate, up, dy, dg, du],
        grid,
      });
    // One kernel writes both; drop the one nobody asked for (freed after the submit).
    if (!gate.requiresGrad) dg.dispose();
    if (!up.requiresGrad) du.dispose();
    return [gate.requiresGrad ? dg : null, up.requiresGrad ? du : null];
  });
}

// ---- property-test specs ----------------------------------------------------------------------

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
