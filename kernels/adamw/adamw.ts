// AdamW optimizer step (in place, one dispatch per binding-size piece of the arena), the global
// gradient norm (deterministic two-pass reduction) and the clipping factor, all on the GPU with no
// readback: gradNormSquared -> clipScale -> adamwStep({ gradScale }). Formulas in adamw.ref.ts
// (Loshchilov & Hutter, decoupled weight decay); kernels in adamw.wgsl. Deliberately not here:
// parameter groups and weight-decay masks (call once per sub-view), learning-rate schedules (the
// caller passes this step's lr), autograd (an optimizer step is not differentiated).
import type { Binding, Runtime } from '../../engine/runtime.ts';
import { empty, zeros, type Tensor } from '../../engine/tensor.ts';
import { EngineError } from '../../engine/errors.ts';
import { Uniforms, checkDtype, fail, grid1d } from '../util.ts';
import type { AdamwRefOpts } from './adamw.ref.ts';

import WGSL from './adamw.wgsl.ts';
const WG = 64;
const STEP_ITEMS = 4; // vec4 per invocation in adamw_step*
const SUM_ITEMS = 16; // vec4 per invocation in sumsq_partial*: a workgroup sums 4096 floats
/** Workgroup size and vec4s per invocation of the sum-of-squares kernels (the spec's error bound uses them). */
export const SUMSQ_SHAPE = { WG, SUM_ITEMS } as const;

/** The reference's hyper-parameters (step: the 1-based t of bias corrections 1 - beta^t), plus: */
export interface AdamwOptions extends AdamwRefOpts {
  /** (1) f32 multiplier on the gradient, e.g. clipScale(gradNormSquared(grads), maxNorm). */
  gradScale?: Tensor;
  /** Split bindings at this many bytes (default: the adapter's maxStorageBufferBindingSize). For tests. */
  maxBindingBytes?: number;
}

interface Piece {
  byteOffset: number; // from the tensor's first element
  bytes: number;
  count: number; // elements
}

/** A tensor's elements cut into bindable pieces (multiples of 256 bytes but the last). */
function pieces(t: Tensor, maxBytes: number): Piece[] {
  const chunk = Math.max(256, Math.floor(maxBytes / 256) * 256);
  const out: Piece[] = [];
  for (let off = 0; off < t.byteLength; off += chunk) {
    const bytes = Math.min(chunk, t.byteLength - off);
    out.push({ byteOffset: off, bytes, count: bytes / 4 });
  }
  return out;
}

/** The uniform block of adamw.wgsl (struct Params), fields in declaration order. */
function params(f: {
  n: number;
  lrWd?: number;
  stepSize?: number;
  rs?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  base?: number;
  maxNorm?: number;
}): Uint8Array {
  const b1 = f.beta1 ?? 0,
    b2 = f.beta2 ?? 0;
  return new Uniforms()
    .u32(f.n)
    .f32(f.lrWd ?? 0)
    .f32(f.stepSize ?? 0)
    .f32(f.rs ?? 0)
    .f32(b1)
    .f32(b2)
    .f32(1 - b1)
    .f32(1 - b2)
    .f32(f.eps ?? 0)
    .u32(f.base ?? 0)
    .f32(f.maxNorm ?? 0)
    .bytes();
}

const bind = (t: Tensor, p: Piece): Binding => ({
  buffer: t.buffer,
  offset: t.byteOffset + p.byteOffset,
  size: p.bytes,
});

function maxBinding(rt: Runtime, asked?: number): number {
  return Math.min(asked ?? Infinity, rt.limits.maxStorageBufferBindingSize);
}

function overlaps(a: Tensor, b: Tensor): boolean {
  return (
    a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength
  );
}

/**
 * One AdamW update of `param` in place, with its moments `m` and `v` (all f32, same size, e.g.
 * whole arena buffers): p -= lr * (mhat / (sqrt(vhat) + eps) + weightDecay * p).
 */
export function adamwStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, opts: AdamwOptions): void {
  const op = 'adamwStep';
  const ts = [param, grad, m, v];
  for (const t of ts) checkDtype(op, t, 'f32');
  if (!ts.every((t) => t.size === param.size))
    fail(op, 'param, grad, m and v must have the same number of elements', ...ts);
  const names = ['param', 'grad', 'm', 'v'];
  for (let i = 0; i < 4; i++)
    for (let j = i + 1; j < 4; j++)
      if (overlaps(ts[i], ts[j])) fail(op, `${names[i]} and ${names[j]} overlap in one buffer`, ts[i], ts[j]);
  const { lr, beta1, beta2, eps, weightDecay, step, gradScale } = opts;
  const bad = (what: string) =>
    fail(
      op,
      `${what} (lr ${lr}, beta1 ${beta1}, beta2 ${beta2}, eps ${eps}, weightDecay ${weightDecay}, step ${step})`,
      param,
    );
  if (!(Number.isFinite(lr) && lr >= 0)) bad('lr must be a finite number >= 0');
  if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) bad('beta1 and beta2 must lie in [0, 1)');
  if (!(Number.isFinite(eps) && eps >= 0)) bad('eps must be a finite number >= 0');
  if (!Number.isFinite(weightDecay)) bad('weightDecay must be finite');
  if (!(Number.isInteger(step) && step >= 1)) bad('step must be an integer >= 1');
  if (gradScale) {
    checkDtype(op, gradScale, 'f32');
    if (gradScale.size !== 1) fail(op, 'gradScale must hold one value', gradScale);
  }
  if (param.size === 0) return;
  const rt = param.rt;
  const vec4 = param.size % 4 === 0 && ts.every((t) => t.byteOffset % 16 === 0);
  const entry = (vec4 ? 'adamw_step4' : 'adamw_step') + (gradScale ? '_scaled' : '');
  const k = rt.kernel(WGSL, entry, { WG, ITEMS: STEP_ITEMS });
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  for (const p of pieces(param, maxBinding(rt, opts.maxBindingBytes))) {
    const n = vec4 ? p.count / 4 : p.count;
    const u = params({ n, lrWd: lr * weightDecay, stepSize: lr / bc1, rs: 1 / Math.sqrt(bc2), beta1, beta2, eps });
    const bindings = ts.map((t) => bind(t, p));
    if (gradScale) bindings.push(gradScale);
    rt.run(k, {
      uniforms: u,
      bindings,
      grid: grid1d(Math.ceil(n / (WG * STEP_ITEMS)), rt.limits.maxComputeWorkgroupsPerDimension),
    });
  }
}

/** sum over `grads` of sum_i g_i^2 as a (1) tensor, in a fixed order (bit-reproducible). */
export function gradNormSquared(grads: readonly Tensor[], opts: { maxBindingBytes?: number } = {}): Tensor {
  const op = 'gradNormSquared';
  if (grads.length === 0) throw new EngineError(`${op}: needs at least one tensor`);
  for (const g of grads) checkDtype(op, g, 'f32');
  const rt = grads[0].rt;
  const maxBytes = maxBinding(rt, opts.maxBindingBytes);
  const perWg = WG * SUM_ITEMS * 4;
  const plan = grads.flatMap((g) =>
    pieces(g, maxBytes).map((p) => {
      const vec4 = p.count % 4 === 0 && (g.byteOffset + p.byteOffset) % 16 === 0;
      return { g, p, vec4, wgs: Math.ceil(p.count / perWg) };
    }),
  );
  const slots = plan.reduce((s, q) => s + q.wgs, 0);
  if (slots === 0) return zeros(rt, [1], 'f32', 'grad_norm_sq');
  const partials = empty(rt, [slots], 'f32', 'grad_norm_sq.partials');
  let base = 0;
  for (const { g, p, vec4, wgs } of plan) {
    const u = params({ n: vec4 ? p.count / 4 : p.count, base });
    rt.run(
      rt.kernel(WGSL, vec4 ? 'sumsq_partial4' : 'sumsq_partial', { WG, ITEMS: vec4 ? SUM_ITEMS : 4 * SUM_ITEMS }),
      {
        uniforms: u,
        bindings: [bind(g, p), partials],
        grid: grid1d(wgs, rt.limits.maxComputeWorkgroupsPerDimension),
      },
    );
    base += wgs;
  }
  const out = empty(rt, [1], 'f32', 'grad_norm_sq');
  rt.run(rt.kernel(WGSL, 'sumsq_final', { WG }), {
    uniforms: params({ n: slots }),
    bindings: [partials, out],
    grid: [1],
  });
  partials.dispose();
  return out;
}

/** min(1, maxNorm / (sqrt(normSq) + 1e-6)) as a (1) tensor, computed on the GPU (no readback). */
export function clipScale(normSq: Tensor, maxNorm: number): Tensor {
  const op = 'clipScale';
  checkDtype(op, normSq, 'f32');
  if (normSq.size !== 1) fail(op, 'normSq must hold one value', normSq);
  if (!(Number.isFinite(maxNorm) && maxNorm > 0))
    fail(op, `maxNorm must be a finite number > 0, got ${maxNorm}`, normSq);
  const rt = normSq.rt;
  const out = empty(rt, [1], 'f32', 'clip_scale');
  rt.run(rt.kernel(WGSL, 'clip_scale'), { uniforms: params({ n: 1, maxNorm }), bindings: [normSq, out], grid: [1] });
  return out;
}
