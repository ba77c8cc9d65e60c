// Softmax over the last axis, numerically stable (max subtraction via the online-softmax
// recurrence, softmax.wgsl), with backward dx = y * (dy - sum(dy * y)) from the saved output.
// Other axes throw: transposing is the caller's business (the model only needs the last axis; the
// vocabulary loss and attention have their own fused kernels). Short rows run one invocation per
// row, long rows one workgroup per row (over vec4s when n % 4 == 0).
import * as fc from 'fast-check';
import { empty, shapeStr, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { EngineError } from '../../engine/errors.ts';
import { Uniforms, checkDtype, grid1d } from '../util.ts';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s } from '../arb.ts';
import { softmaxBackwardRef, softmaxRef } from './softmax.ref.ts';

import WGSL from './softmax.wgsl.ts';
/**
 * Rows at most this long run one invocation per row: on llvmpipe that beat a workgroup per row by
 * 4-30x for n <= 1024 (idle lanes, barriers), while 4096 and 32000 favour the workgroup (threads
 * need enough workgroups to share). GPUs would prefer the workgroup path earlier.
 */
const ROW_MAX = 1024;
const WG_ROWS = 64;
const WG_ROW = 64;

function launch(entry: 'fwd' | 'bwd', rows: number, n: number, bindings: Tensor[]): void {
  const rt = bindings[0].rt;
  const u = new Uniforms().u32(rows).u32(n).bytes();
  if (rows === 0 || n === 0) return;
  if (n <= ROW_MAX) {
    const k = rt.kernel(WGSL, `softmax_${entry}_rows`, { WG: WG_ROWS });
    rt.run(k, { uniforms: u, bindings, grid: grid1d(Math.ceil(rows / WG_ROWS)) });
  } else {
    const k = rt.kernel(WGSL, `softmax_${entry}_wg${n % 4 === 0 ? '4' : ''}`, { WG: WG_ROW });
    rt.run(k, { uniforms: u, bindings, grid: grid1d(rows) });
  }
}

export function softmax(x: Tensor, axis = -1): Tensor {
  checkDtype('softmax', x, 'f32');
  if (x.rank === 0) throw new EngineError(`softmax: input must have rank >= 1, got ${shapeStr(x.shape)}`);
  if (axis !== -1 && axis !== x.rank - 1) {
    throw new EngineError(
      `softmax: only the last axis is supported (axis -1 or ${x.rank - 1}), got axis ${axis} for ${shapeStr(x.shape)}`,
    );
  }
  const n = x.shape[x.rank - 1];
  const rows = n === 0 ? 0 : x.size / n;
  const rt = x.rt;
  const y = empty(rt, x.shape, 'f32', 'softmax');
  launch('fwd', rows, n, [x, y]);
  return record('softmax', y, [x], (dy) => {
    checkDtype('softmax backward', dy, 'f32');
    const dx = empty(rt, x.shape, 'f32', 'softmax_bwd');
    launch('bwd', rows, n, [y, dy, dx]);
    return [dx];
  });
}

// ---- property-test specs ----------------------------------------------------------------------

const EPS32 = 2 ** -23;
// Row lengths around the rows/workgroup switch (ROW_MAX), the workgroup size, and a vocabulary.
const rowLen = fc.oneof(
  fc.integer({ min: 1, max: 9 }),
  fc.constantFrom(1, 2, 13, 63, 64, 65, 127, 128, 129, 1021, 1024),
  fc.constantFrom(1031, 2052, 32000), // the workgroup paths: scalar, vec4, a vocabulary
);

const softmaxArb = fc
  .tuple(
    rowLen,
    fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 0, maxLength: 2 }),
    fc.integer({ min: 0, max: 4 }),
  )
  .chain(([n, lead, big]) => {
    // Long rows get few of them; `big` == 0 is the overflow case (|x| up to 1000: exp overflows
    // without the max subtraction).
    const outer = n > 1000 ? [lead.length ? 1 : 2] : lead;
    const shape = [...outer, n];
    const lim = big === 0 ? 1000 : 8;
    return f32s(
      shape.reduce((p, d) => p * d, 1),
      -lim,
      lim,
    ).map((x): OpCase => ({ inputs: [{ name: 'x', shape, data: x }] }));
  });

/** exp has 3 + 2|x| ulp in WGSL, x - max is exact to ~range·eps, and the sum adds ~sqrt(n)·eps. */
function softmaxTol(c: OpCase) {
  const x = c.inputs[0].data;
  let lo = Infinity,
    hi = -Infinity;
  for (const v of x) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const n = c.inputs[0].shape[c.inputs[0].shape.length - 1];
  const rtol = 1e-5 + EPS32 * (4 * (hi - lo) + 4 * Math.sqrt(n));
  return { atol: 1e-9, rtol };
}

export const softmaxSpecs: OpSpec[] = [
  {
    name: 'softmax',
    kernel: 'softmax',
    arb: softmaxArb,
    gpu: (_rt, [x]) => softmax(x, -1),
    ref: (c) => {
      const s = c.inputs[0].shape;
      return softmaxRef(c.inputs[0].data, s[s.length - 1]);
    },
    refBackward: (c, g) => {
      const s = c.inputs[0].shape;
      return [softmaxBackwardRef(c.inputs[0].data, s[s.length - 1], g)];
    },
    tol: softmaxTol,
    // dx = y (dy - dot): the dot's error (~sqrt(n)·eps) is absolute, scaled by y <= 1.
    gradTol: (c) => {
      const t = softmaxTol(c);
      return { atol: t.rtol / 2, rtol: t.rtol };
    },
  },
];
