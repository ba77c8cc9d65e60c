// linear (x W^T) over operands larger than one storage binding: rows of x and of the output in
// row ranges (contiguous views), and the weight in ranges of its output features (its rows). A
// weight range writes a block of output columns, which is not contiguous: it is computed into a
// (rows, features) temporary and copied into place row by row (copyBufferToBuffer, no binding),
// and the backward gathers the matching columns of the output gradient the same way. Each block
// is one matmulInto dispatch of the usual kernels; dW of a parameter with a gradient buffer is
// accumulated in place. linear() takes this path only when something does not fit.
// Deliberately not here: splitting K (the input features: a row of x or W beyond one binding).
import { empty, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { boundRows, rowsPerChunk, sharedRowsPerChunk } from '../util.ts';
import type { matmulInto as MatmulInto } from './matmul.ts';

function ranges(n: number, chunk: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < n; i += chunk) out.push([i, Math.min(n, i + chunk)]);
  return out;
}

/** Whether linear(x, w) binds nothing over the limit as one dispatch. */
export function linearFits(x: Tensor, w: Tensor, rowsN: number): boolean {
  const max = x.rt.limits.maxStorageBufferBindingSize;
  const [outF, inF] = w.shape;
  // +16: the subgroup kernel binds its operands rounded up to 16 bytes.
  return rowsN * inF * 4 + 16 <= max && outF * inF * 4 + 16 <= max && rowsN * outF * 4 <= max;
}

/** Copy columns [c0, c0 + w) of rows [r0, r0 + rows) of full (R, W) into block (rows, w), or back with `scatter`. */
function copyColumns(block: Tensor, full: Tensor, r0: number, c0: number, scatter: boolean): void {
  const [rows, w] = block.shape;
  const W = full.shape[full.rank - 1];
  const enc = full.rt.commandEncoder();
  for (let r = 0; r < rows; r++) {
    const f = full.byteOffset + ((r0 + r) * W + c0) * 4;
    const b = block.byteOffset + r * w * 4;
    if (scatter) enc.copyBufferToBuffer(block.buffer, b, full.buffer, f, w * 4);
    else enc.copyBufferToBuffer(full.buffer, f, block.buffer, b, w * 4);
  }
}

/** `matmulInto` comes from matmul.ts, which calls this: passed in, so the modules form no cycle. */
export function linearSplit(x: Tensor, w: Tensor, matmulInto: typeof MatmulInto): Tensor {
  const op = 'linear';
  const rt = x.rt;
  const [outF, inF] = w.shape;
  const lead = x.shape.slice(0, -1);
  const rowsN = x.size / inF;
  const out = empty(rt, [...lead, outF], 'f32', 'linear');
  // Views made here are disposed before returning: a view holds its buffer until disposed.
  const x2 = x.view([rowsN, inF]);
  const out2 = out.view([rowsN, outF]);
  // Row ranges of x / out, feature ranges of W; a (rows, features) block must fit too. 16 bytes
  // spare: the subgroup kernel binds its operands rounded up to 16 bytes.
  const max = rt.limits.maxStorageBufferBindingSize - 16;
  const fc = rowsPerChunk(op, w, outF, inF * 4, max);
  const rc = sharedRowsPerChunk(op, rowsN, [
    { t: x2, rowBytes: inF * 4, maxBytes: max },
    { t: out2, rowBytes: (fc < outF ? fc : outF) * 4 },
  ]);
  const rowR = ranges(rowsN, rc);
  const featR = ranges(outF, fc);
  const whole = featR.length === 1;

  for (const [r0, r1] of rowR) {
    const xr = boundRows(x2, r0, r1);
    for (const [f0, f1] of featR) {
      const wf = boundRows(w, f0, f1);
      if (whole) {
        const o = boundRows(out2, r0, r1, { write: true });
        matmulInto(o.t, xr.t, wf.t, { transB: true });
        o.done();
      } else {
        const blk = empty(rt, [r1 - r0, f1 - f0], 'f32', 'linear.block');
        matmulInto(blk, xr.t, wf.t, { transB: true });
        copyColumns(blk, out2, r0, f0, true);
        blk.dispose();
      }
      wf.done();
    }
    xr.done();
  }
  [x2, out2].forEach((t) => t.dispose());

  return record(op, out, [x, w], (g) => {
    const g2 = g.view([rowsN, outF]);
    const gx = x.requiresGrad ? empty(rt, x.shape, 'f32', 'linear_bwd_x') : null;
    const inPlace = w.requiresGrad && !w.node && !!w.grad && !w.grad.disposed;
    const gw = !w.requiresGrad ? null : inPlace ? w.grad! : empty(rt, w.shape, 'f32', 'linear_bwd_w');
    const gx2 = gx && gx.view([rowsN, inF]);
    const xv = x.view([rowsN, inF]);
    rowR.forEach(([r0, r1], i) => {
      const xr = boundRows(xv, r0, r1);
      featR.forEach(([f0, f1], j) => {
        let gb = boundRows(g2, r0, r1);
        if (!whole) {
          const blk = empty(rt, [r1 - r0, f1 - f0], 'f32', 'linear.gblock');
          copyColumns(blk, g2, r0, f0, false);
          gb = { t: blk, done: () => blk.dispose() };
        }
        const wf = boundRows(w, f0, f1);
        // dX rows (+)= gblock W_f; dW_f (+)= gblock^T X rows (a fresh dW: the first row range overwrites).
        if (gx2) {
          const d = boundRows(gx2, r0, r1, { write: true, init: j > 0 });
          matmulInto(d.t, gb.t, wf.t, { accumulate: j > 0 });
          d.done();
        }
        if (gw) {
          const acc = inPlace || i > 0;
          const d = boundRows(gw, f0, f1, { write: true, init: acc });
          matmulInto(d.t, gb.t, xr.t, { transA: true, accumulate: acc });
          d.done();
        }
        [gb, wf].forEach((b) => b.done());
      });
      xr.done();
    });
    [g2, xv, gx2].forEach((t) => t?.dispose());
    return [gx, inPlace ? null : gw];
  });
}
