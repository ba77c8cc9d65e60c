// Softmax over the last axis, numerically stable (max subtraction via the online-softmax
// recurrence, softmax.wgsl), with backward dx = y * (dy - sum(dy * y)) from the saved output.
// Other axes throw: transposing is the caller's business (the model only needs the last axis; the
// vocabulary loss and attention have their own fused kernels). Short rows run one invocation per
// row, long rows one workgroup per row (over vec4s when n % 4 == 0).
import { empty, shapeStr, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { EngineError } from '../../engine/errors.ts';
import { Uniforms, checkDtype, grid1d } from '../util.ts';

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
