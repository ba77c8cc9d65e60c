// SwiGLU launcher and autograd: swiglu(gate, up) = silu(gate) * up elementwise, the
// activation of LLaDA's MLP (GSAI-ML/LLaDA modeling_llada.py LLaDALlamaBlock). Kernel and formulas
// in swiglu.wgsl; vec4 entry points when the element count is a multiple of 4. Not here:
// broadcasting (same shapes only) or fusing the surrounding matmuls.
import { empty, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { Uniforms, checkDtype, fail, grid1d, sameShape } from '../util.ts';

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
