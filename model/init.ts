// Random initialisation of a from-scratch LLaDA, computed on the host from the project's Philox
// stream (seeded, so the same seed gives the same model on any device), then uploaded once.
// Schemes follow the OLMo code LLaDA derives from (olmo/initialization.py, InitFnType):
//   normal:   every Linear and the embedding ~ N(0, init_std), truncated at init_cutoff_factor stds;
//   mitchell: Linear with fan-in d ~ N(0, 1/sqrt(d)) truncated at 3 std; output projections of a
//             block (attn_out, ff_out) use std 1/sqrt(2 * d * (layer + 1)); embedding N(0, init_std).
// Norm weights are 1. Other OLMo schemes (kaiming, full_megatron) fall back to normal with a note.
import { philoxUniform, streamOf, STREAM_TAG } from '../kernels/rng/philox.ts';
import type { ModelConfig } from './config.ts';
import type { ParamSpec } from './params.ts';

/** The std of a weight matrix's initial values and the truncation point (both absolute). */
export function initStd(cfg: ModelConfig, p: ParamSpec): { std: number; cutoff: number } {
  const normalCut = (cfg.init_cutoff_factor ?? 3) * cfg.init_std;
  if (cfg.init_fn !== 'mitchell' || p.name.endsWith('wte.weight')) return { std: cfg.init_std, cutoff: normalCut };
  const fanIn = p.shape[1];
  const layer = Number(/blocks\.(\d+)\./.exec(p.name)?.[1] ?? 0);
  const isOut = /\.(attn_out|ff_out)\.weight$/.test(p.name) && p.name.includes('blocks.');
  const std = isOut ? 1 / Math.sqrt(2 * fanIn * (layer + 1)) : 1 / Math.sqrt(fanIn);
  return { std, cutoff: 3 * std };
}

/** Initial values for one parameter; index = position in the parameter table (its stream). */
export function initValues(cfg: ModelConfig, p: ParamSpec, index: number, seed: number): Float32Array {
  const n = p.shape.reduce((a, d) => a * d, 1);
  if (p.shape.length < 2) return new Float32Array(n).fill(1);
  const { std, cutoff } = initStd(cfg, p);
  // Box-Muller over pairs of uniforms; redraw (from further along the stream) outside the cutoff.
  const out = new Float32Array(n);
  let drawn = 0,
    k = 0;
  const chunk = 2 * n + 64;
  let u = philoxUniform(seed, streamOf(STREAM_TAG.init, index, 0), chunk, 0);
  let uOff = 0;
  while (drawn < n) {
    if (k + 2 > u.length) {
      uOff += u.length;
      u = philoxUniform(seed, streamOf(STREAM_TAG.init, index, 0), chunk, uOff);
      k = 0;
    }
    const u1 = Math.max(u[k], 1e-12),
      u2 = u[k + 1];
    k += 2;
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2) * std;
    if (Math.abs(z) <= cutoff) out[drawn++] = z;
  }
  return out;
}
