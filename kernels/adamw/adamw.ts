// AdamW optimizer step (in place, one dispatch per binding-size piece of the arena), the global
// gradient norm (deterministic two-pass reduction) and the clipping factor, all on the GPU with no
// readback: gradNormSquared -> clipScale -> adamwStep({ gradScale }). Formulas in adamw.ref.ts
// (Loshchilov & Hutter, decoupled weight decay); kernels in adamw.wgsl. Deliberately not here:
// parameter groups and weight-decay masks (call once per sub-view), learning-rate schedules (the
// caller passes this step's lr), autograd (an optimizer step is not differentiated).
import * as fc from 'fast-check';
import type { Binding, Runtime } from '../../engine/runtime.ts';
import { empty, zeros, type Tensor } from '../../engine/tensor.ts';
import { EngineError } from '../../engine/errors.ts';
import { Uniforms, checkDtype, fail, grid1d } from '../util.ts';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s } from '../arb.ts';
import { adamwRef, clipScaleRef, gradNormSquaredRef, type AdamwRefOpts } from './adamw.ref.ts';

import WGSL from './adamw.wgsl.ts';
const WG = 64;
const STEP_ITEMS = 4; // vec4 per invocation in adamw_step*
const SUM_ITEMS = 16; // vec4 per invocation in sumsq_partial*: a workgroup sums 4096 floats

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

// ---- property-test specs ----------------------------------------------------------------------

const size = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 300 }) },
  { weight: 2, arbitrary: fc.constantFrom(1, 3, 4, 5, 8, 63, 64, 65, 255, 256, 257, 1021, 1024) },
  { weight: 1, arbitrary: fc.constantFrom(4096 * 3 + 4, 4096 * 5 - 1) },
);

interface AdamwCase extends OpCase {
  params: { opts: AdamwRefOpts; steps: number; scale?: number; maxBindingBytes?: number };
}

const adamwCase: fc.Arbitrary<AdamwCase> = fc
  .record({
    n: size,
    lr: fc.constantFrom(1e-4, 1e-3, 3e-3, 0.1),
    beta1: fc.constantFrom(0.9, 0.8, 0.5, 0),
    beta2: fc.constantFrom(0.999, 0.95, 0.99, 0.5),
    eps: fc.constantFrom(1e-8, 1e-6, 1e-12),
    weightDecay: fc.constantFrom(0, 0.01, 0.1),
    step: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5000 })),
    steps: fc.integer({ min: 1, max: 3 }),
    scale: fc.option(fc.float({ min: Math.fround(0.01), max: 1, noNaN: true }).map(Math.fround), { nil: undefined }),
    split: fc.option(fc.constantFrom(256, 512, 1024), { nil: undefined, freq: 4 }),
  })
  .chain(({ n, steps, scale, split, ...opts }) =>
    fc.tuple(f32s(n), f32s(n), f32s(n, -1, 1), f32s(n, 0, 4)).map(([p, g, m, extra]) => ({
      inputs: [
        { name: 'param', shape: [n], data: p, grad: false },
        { name: 'grad', shape: [n], data: g, grad: false },
        { name: 'm', shape: [n], data: m, grad: false },
        // v >= m^2 as in real Adam states (the ratio m / sqrt(v) stays O(1)); v >= 0 always
        { name: 'v', shape: [n], data: m.map((x, i) => ftz(Math.fround(x * x + extra[i]))), grad: false },
      ],
      // at most ~8 pieces: enough to cross piece boundaries, few dispatches
      params: { opts, steps, scale, maxBindingBytes: split && Math.max(split, 256 * Math.ceil(n / 512)) },
    })),
  );

const ftz = (x: number) => (Math.abs(x) < 2 ** -126 ? 0 : x);

function adamwGpu(rt: Runtime, [p, g, m, v]: Tensor[], c: AdamwCase): Tensor {
  const { opts, steps, scale, maxBindingBytes } = c.params;
  const gradScale = scale === undefined ? undefined : empty(rt, [1], 'f32', 'scale');
  if (gradScale) gradScale.write([scale!]);
  for (let s = 0; s < steps; s++) adamwStep(p, g, m, v, { ...opts, step: opts.step + s, gradScale, maxBindingBytes });
  const out = empty(rt, [3, p.size], 'f32', 'adamw.state');
  const enc = rt.commandEncoder();
  [p, m, v].forEach((t, i) =>
    enc.copyBufferToBuffer(t.buffer, t.byteOffset, out.buffer, i * t.byteLength, t.byteLength),
  );
  return out;
}

interface NormCase extends OpCase {
  params: { maxBindingBytes?: number };
}

const normCase: fc.Arbitrary<NormCase> = fc
  .tuple(
    fc.array(size, { minLength: 1, maxLength: 3 }),
    fc.option(fc.constantFrom(256, 1024), { nil: undefined, freq: 3 }),
  )
  .chain(([ns, split]) =>
    fc.tuple(...ns.map((n) => f32s(n))).map((xs) => ({
      inputs: xs.map((x, i) => ({ name: `g${i}`, shape: [x.length], data: x, grad: false })),
      params: { maxBindingBytes: split },
    })),
  );

export const adamwSpecs: OpSpec<any>[] = [
  {
    name: 'adamw.step',
    kernel: 'adamw',
    arb: adamwCase,
    gpu: adamwGpu,
    ref: (c: AdamwCase) =>
      adamwRef(
        c.inputs[0].data,
        c.inputs[1].data,
        c.inputs[2].data,
        c.inputs[3].data,
        c.params.opts,
        c.params.steps,
        c.params.scale,
      ),
    // f32 state: p, m, v each round by a few 2^-24 relative per step (rtol); m = b1 m + (1 - b1) g
    // can cancel (absolute ~2^-24 (|m| + |g|) < 1e-6 here), which the update carries into p scaled
    // by lr sqrt(1 - b2^t) / (1 - b1^t) / sqrt(v), bounded since m^2 <= C v (amp). Measured worst
    // over 300 cases: a quarter of this.
    tol: (c: AdamwCase) => {
      const { lr, beta1, beta2, step } = c.params.opts;
      const amp = (lr * Math.sqrt(1 - beta2 ** step)) / (1 - beta1 ** step);
      return { atol: c.params.steps * (2e-7 + 1e-6 * amp), rtol: 5e-7 * c.params.steps };
    },
  } satisfies OpSpec<AdamwCase>,
  {
    name: 'adamw.gradNormSquared',
    kernel: 'adamw',
    arb: normCase,
    gpu: (_rt: Runtime, xs: Tensor[], c: NormCase) => gradNormSquared(xs, c.params),
    ref: (c: NormCase) => gradNormSquaredRef(c.inputs.map((i) => i.data)),
    // A sum of non-negative terms: relative error <= (longest chain of f32 adds) * 2^-24; squares
    // below 2^-126 may flush to zero (atol).
    tol: (c: NormCase) => {
      const n = c.inputs.reduce((s, i) => s + i.data.length, 0);
      return {
        atol: n * 2 ** -126,
        rtol: (4 * SUM_ITEMS + 2 * Math.log2(WG) + 4 + n / (WG * SUM_ITEMS * 4 * WG)) * 6e-8,
      };
    },
  } satisfies OpSpec<NormCase>,
  {
    name: 'adamw.clipScale',
    kernel: 'adamw',
    arb: fc
      .tuple(fc.oneof(fc.float({ min: 0, max: 1e4, noNaN: true }), fc.constant(0)), fc.constantFrom(0.5, 1, 10))
      .map(([ns, maxNorm]): OpCase => ({
        inputs: [{ name: 'normSq', shape: [1], data: Float32Array.of(ns), grad: false }],
        params: { maxNorm },
      })),
    gpu: (_rt: Runtime, [ns]: Tensor[], c: OpCase) => clipScale(ns, c.params.maxNorm),
    ref: (c: OpCase) => clipScaleRef(c.inputs[0].data[0], c.params.maxNorm),
    tol: () => ({ atol: 0, rtol: 1e-6 }),
  },
];
