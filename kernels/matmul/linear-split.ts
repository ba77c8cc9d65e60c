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
import { rowsPerChunk, rowsView, sharedRowsPerChunk } from '../util.ts';
import type { matmulInto as MatmulInto } from './matmul.ts';

type Range = [number, number];

function ranges(n: number, chunk: number): Range[] {
  const out: Range[] = [];
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

/** Copy columns [c0, c0 + w) of src (rows, W) into dst (rows, w), or back with `scatter`. */
function copyColumns(block: Tensor, full: Tensor, c0: number, scatter: boolean): void {
  const [rows, w] = block.shape;
  const W = full.shape[full.rank - 1];
  const enc = full.rt.commandEncoder();
  for (let r = 0; r < rows; r++) {
    const f = full.byteOffset + (r * W + c0) * 4;
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
  let views: Tensor[] = [];
  const keep = (t: Tensor) => (views.push(t), t);
  const sub = (t: Tensor, [a, b]: Range, n: number) => (b - a === n ? t : keep(rowsView(t, a, b)));
  const done = () => (views.forEach((t) => t.dispose()), (views = []));
  const x2 = keep(x.view([rowsN, inF]));
  const out2 = keep(out.view([rowsN, outF]));
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
  const opts = {};

  for (const rr of rowR) {
    const xr = sub(x2, rr, rowsN);
    for (const fr of featR) {
      const wf = sub(w, fr, outF);
      if (whole) matmulInto(sub(out2, rr, rowsN), xr, wf, { ...opts, transB: true });
      else {
        const blk = empty(rt, [rr[1] - rr[0], fr[1] - fr[0]], 'f32', 'linear.block');
        matmulInto(blk, xr, wf, { ...opts, transB: true });
        copyColumns(blk, sub(out2, rr, rowsN), fr[0], true);
        blk.dispose();
      }
    }
  }
  done();

  return record(op, out, [x, w], (g) => {
    const g2 = keep(g.view([rowsN, outF]));
    const gx = x.requiresGrad ? empty(rt, x.shape, 'f32', 'linear_bwd_x') : null;
    const inPlace = w.requiresGrad && !w.node && !!w.grad && !w.grad.disposed;
    const gw = !w.requiresGrad ? null : inPlace ? w.grad! : empty(rt, w.shape, 'f32', 'linear_bwd_w');
    const gx2 = gx && keep(gx.view([rowsN, inF]));
    rowR.forEach((rr, i) => {
      const xr = sub(x2, rr, rowsN);
      featR.forEach((fr, j) => {
        let gb = sub(g2, rr, rowsN);
        if (!whole) {
          gb = empty(rt, [rr[1] - rr[0], fr[1] - fr[0]], 'f32', 'linear.gblock');
          copyColumns(gb, sub(g2, rr, rowsN), fr[0], false);
        }
        const wf = sub(w, fr, outF);
        // dX rows += gblock W_f; dW_f (+)= gblock^T X rows (first row range overwrites a fresh dW).
        if (gx2) matmulInto(sub(gx2, rr, rowsN), gb, wf, { ...opts, accumulate: j > 0 });
        if (gw) matmulInto(sub(gw, fr, outF), gb, xr, { ...opts, transA: true, accumulate: inPlace || i > 0 });
        if (!whole) gb.dispose();
      });
    });
    done();
    return [gx, inPlace ? null : gw];
  });
}
