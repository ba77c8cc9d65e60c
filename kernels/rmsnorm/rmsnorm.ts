// RMSNorm launcher, autograd and property spec: y = x * rsqrt(mean(x^2) + eps) * weight over the
// last axis, in f32, as LLaDA's RMSLayerNorm (GSAI-ML/LLaDA modeling_llada.py; LLaDA-8B uses
// eps = 1e-5). Kernel design in rmsnorm.wgsl. Not here: a bias term (LLaDA has none), fused
// residual add (a composite over this op when a profile asks for it).
import * as fc from 'fast-check';
import type { Runtime } from '../../engine/runtime.ts';
import { empty, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { Uniforms, checkDtype, checkRank, fail, grid1d } from '../util.ts';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s, prod } from '../arb.ts';
import { rmsnormBackwardRef, rmsnormRef } from './rmsnorm.ref.ts';

import WGSL from './rmsnorm.wgsl.ts';
import WGSL_SG from './rmsnorm-sg.wgsl.ts';
const WG = 64;
/** Weight-gradient pass 1 splits the rows into at most this many chunks (partials per column). */
const MAX_CHUNKS = 64;
const MIN_ROWS_PER_CHUNK = 32;

/**
 * How a row is reduced: 'invocation' = one row per invocation (no barriers, no workgroup memory);
 * 'subgroup' = one subgroup per row (subgroupAdd; needs the feature and a fixed subgroup size);
 * 'workgroup' = all 64 invocations of a workgroup per row (tree in workgroup memory, portable).
 */
export type RmsnormLayout = 'invocation' | 'subgroup' | 'workgroup';

export interface RmsnormOptions {
  /** Override the adapter's default row layout (tests and benchmarks). */
  layout?: RmsnormLayout;
}

interface AdapterFacts {
  adapterInfo?: { architecture?: string; description?: string; subgroupMinSize?: number; subgroupMaxSize?: number };
  hasSubgroups?: boolean;
}

/** The adapter's fixed subgroup size, or 0 when subgroups are missing or vary. */
function fixedSubgroupSize(rt: Runtime): number {
  const f = rt as unknown as AdapterFacts;
  const lo = f.adapterInfo?.subgroupMinSize ?? 0;
  const hi = f.adapterInfo?.subgroupMaxSize ?? 0;
  return f.hasSubgroups && lo === hi && lo >= 1 && lo <= WG && (lo & (lo - 1)) === 0 ? lo : 0;
}

/** CPU adapters run a workgroup as one thread where a barrier is a coroutine switch (PERF.md). */
function isCpuAdapter(rt: Runtime): boolean {
  const info = (rt as unknown as AdapterFacts).adapterInfo;
  if (!info) return false;
  return info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader|warp/i.test(info.description ?? '');
}

/**
 * Subgroup per row wherever the subgroup size is fixed: on llvmpipe it beat one row per invocation
 * (equal at C = 256, ~1.7-1.8x faster at C = 1024 and 4096) and the workgroup tree (barriers) by
 * 2-10x; on GPUs it is the usual warp-per-row layout. Otherwise GPUs take the workgroup tree and
 * CPU adapters one row per invocation.
 */
function defaultLayout(rt: Runtime): RmsnormLayout {
  if (fixedSubgroupSize(rt) > 0) return 'subgroup';
  return isCpuAdapter(rt) ? 'invocation' : 'workgroup';
}

function params(rows: number, c: number, eps: number, rowsPerChunk = 0, chunks = 0): Uint8Array {
  return new Uniforms().u32(rows).u32(c).f32(eps).u32(rowsPerChunk).u32(chunks).bytes();
}

export function rmsnorm(x: Tensor, weight: Tensor, eps: number, opts: RmsnormOptions = {}): Tensor {
  const op = 'rmsnorm';
  checkDtype(op, x, 'f32');
  checkDtype(op, weight, 'f32');
  checkRank(op, weight, 1, 'weight');
  const c = weight.shape[0];
  if (x.rank < 1 || x.shape[x.rank - 1] !== c) fail(op, `last axis of x must equal weight length ${c}`, x, weight);
  if (c === 0) fail(op, 'C must be at least 1', x, weight);
  if (!(eps >= 0) || !Number.isFinite(eps)) fail(op, `eps must be a finite number >= 0, got ${eps}`, x, weight);
  const rt = x.rt;
  const layout = opts.layout ?? defaultLayout(rt);
  const lanes = layout === 'invocation' ? 1 : layout === 'workgroup' ? WG : fixedSubgroupSize(rt);
  if (lanes === 0) fail(op, `layout 'subgroup' needs the subgroups feature with a fixed subgroup size`, x);
  const file = layout === 'subgroup' ? WGSL_SG : WGSL;
  const rows = x.size / c;
  const over = { WG, LANES: lanes };
  const rowGrid = grid1d(Math.ceil(rows / (WG / lanes)));
  const y = empty(rt, x.shape, 'f32', op);
  const rstd = empty(rt, [rows], 'f32', 'rmsnorm.rstd');
  rt.run(rt.kernel(file, 'rmsnorm_fwd', over), {
    uniforms: params(rows, c, eps),
    bindings: [x, weight, y, rstd],
    grid: rowGrid,
  });
  record(op, y, [x, weight], (dy) => {
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    if (x.requiresGrad) {
      dx = empty(rt, x.shape, 'f32', 'rmsnorm_bwd.dx');
      rt.run(rt.kernel(file, 'rmsnorm_bwd_x', over), {
        uniforms: params(rows, c, eps),
        bindings: [dy, x, weight, rstd, dx],
        grid: rowGrid,
      });
    }
    if (weight.requiresGrad) {
      dw = empty(rt, [c], 'f32', 'rmsnorm_bwd.dw');
      const chunks = Math.max(1, Math.min(MAX_CHUNKS, Math.ceil(rows / MIN_ROWS_PER_CHUNK)));
      const perChunk = Math.max(1, Math.ceil(rows / chunks));
      const nChunks = Math.max(1, Math.ceil(rows / perChunk));
      const part = nChunks === 1 ? dw : empty(rt, [nChunks, c], 'f32', 'rmsnorm_bwd.dw_part');
      const u = params(rows, c, eps, perChunk, nChunks);
      rt.run(rt.kernel(WGSL, 'rmsnorm_bwd_w', { WG }), {
        uniforms: u,
        bindings: [dy, x, rstd, part],
        grid: [Math.ceil(c / WG), nChunks],
      });
      if (part !== dw) {
        rt.run(rt.kernel(WGSL, 'rmsnorm_bwd_w_sum', { WG }), {
          uniforms: u,
          bindings: [part, dw],
          grid: [Math.ceil(c / WG)],
        });
        part.dispose();
      }
    }
    return [dx, dw];
  });
  if (!y.node) rstd.dispose(); // saved only for the backward
  return y;
}

// ---- property-test specs ----------------------------------------------------------------------

// C: small, primes, and one side of the 64-lane tile; rows 1-10 over 1-3 leading axes.
const cArb = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(1, 2, 7, 13, 31, 37, 63, 64, 65));
const leadArb = fc.oneof(
  fc.integer({ min: 1, max: 10 }).map((r) => [r]),
  fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })).map(([a, b]) => [a, b]),
);
// Magnitudes: ordinary, tiny (eps dominates) and large (x^2 near 1e30, still finite in f32).
const magArb = fc.constantFrom(1, 1, 1e-3, 1e14);

const caseArb = fc.tuple(cArb, leadArb, magArb, fc.constantFrom(1e-5, 1e-6)).chain(([c, lead, mag, eps]) =>
  fc.tuple(f32s(prod(lead) * c), f32s(c, -2, 2)).map(([x, w]): OpCase => ({
    inputs: [
      { name: 'x', shape: [...lead, c], data: mag === 1 ? x : x.map((v) => Math.fround(v * mag)) },
      { name: 'weight', shape: [c], data: w },
    ],
    params: { eps },
  })),
);

// y = x r w with |x r| <= sqrt(C): f32 rounding of the sum of squares is relative ~C * 2^-24.
const tol = (c: OpCase) => {
  const n = c.inputs[1].shape[0];
  return { atol: 2e-6 * Math.sqrt(n), rtol: 1e-5 + 2e-7 * n };
};
// dx carries r = 1/rms per row, up to 1/sqrt(eps) for tiny rows; dw sums up to `rows` terms of
// size <= sqrt(C). Scale atol by the larger of the two.
const gradTol = (c: OpCase) => {
  const n = c.inputs[1].shape[0];
  const x = c.inputs[0].data;
  const rows = x.length / n;
  let rmax = 1;
  for (let i = 0; i < rows; i++) {
    let ms = 0;
    for (let j = 0; j < n; j++) ms += x[i * n + j] * x[i * n + j];
    rmax = Math.max(rmax, 1 / Math.sqrt(ms / n + c.params.eps));
  }
  return { atol: 1e-5 * Math.sqrt(n) * Math.max(rmax, rows), rtol: 1e-4 + 1e-6 * n };
};

const spec = (name: string, layout?: RmsnormLayout): OpSpec => ({
  name,
  kernel: 'rmsnorm',
  arb: caseArb,
  gpu: (_rt, [x, w], c) => rmsnorm(x, w, c.params.eps, { layout }),
  ref: (c) => rmsnormRef(c.inputs[0].data, c.inputs[1].data, c.inputs[1].shape[0], c.params.eps),
  refBackward: (c, g) => rmsnormBackwardRef(c.inputs[0].data, c.inputs[1].data, c.inputs[1].shape[0], c.params.eps, g),
  tol,
  gradTol,
});

/** `rmsnorm`: the adapter's default layout; the others force each layout the adapter can run. */
export const rmsnormSpecs: OpSpec[] = [
  spec('rmsnorm'),
  spec('rmsnorm.invocation', 'invocation'),
  spec('rmsnorm.workgroup', 'workgroup'),
  {
    ...spec('rmsnorm.subgroup', 'subgroup'),
    gpu: (rt, [x, w], c) => rmsnorm(x, w, c.params.eps, { layout: fixedSubgroupSize(rt) ? 'subgroup' : undefined }),
  },
];
