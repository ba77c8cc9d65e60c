// Embedding launcher and autograd: embedding(ids (i32 [...]), table (V, C)) gathers
// rows into [..., C] (LLaDA's wte, GSAI-ML/LLaDA modeling_llada.py). Out-of-range ids are clamped in
// the kernel (documented in embedding.wgsl); the model validates ids on the host. The table
// gradient is dense (V, C) and deterministic without float atomics:
// - with `hostIds` (the host copy of the ids the caller uploaded), the launcher builds a CSR on the
//   CPU (unique ids, each with its token positions in increasing order), clears d_table and a
//   kernel writes only the used rows: O(N * C) work;
// - without it, a scan kernel has every table row look through all N ids: O(V * N * C / 64).
// Kernels move vec4s of channels when C % 4 == 0.
// Both sum a row's tokens in increasing token order in f32, so they agree bit for bit.
// The table may be bf16 or f16 (a frozen checkpoint weight): gathered and widened to f32, no backward.
// A table (f32 or 16-bit) larger than maxStorageBufferBindingSize is bound in row ranges, one dispatch per range
// (the forward and both backward kernels only touch rows of their range). A table that is a
// parameter with a gradient buffer gets its gradient added in place.
// Not here: sparse gradient output, padding_idx.
import { empty, fill0, isHalf, tensor, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { Uniforms, checkDtype, checkRank, fail, grid1d, boundRows, rowsPerChunk } from '../util.ts';
import { clampId } from './embedding.ref.ts';

import WGSL from './embedding.wgsl.ts';
const WG = 64;

export interface EmbeddingOptions {
  /** Host copy of `ids` (same values, same order): enables the O(N * C) backward. */
  hostIds?: Int32Array;
}

/**
 * CSR of token positions grouped by (clamped) id: [uniq (U) | start (U + 1) | pos (N)], ids
 * ascending, positions ascending within an id (the kernel's summation order).
 */
export function embeddingCsr(hostIds: ArrayLike<number>, v: number): { data: Int32Array; unique: number } {
  const n = hostIds.length;
  const row = Int32Array.from(hostIds, (id) => clampId(id, v));
  const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => row[a] - row[b] || a - b);
  let unique = 0;
  for (let k = 0; k < n; k++) if (k === 0 || row[order[k]] !== row[order[k - 1]]) unique++;
  const data = new Int32Array(2 * unique + 1 + n);
  let q = 0;
  for (let k = 0; k < n; k++) {
    if (k === 0 || row[order[k]] !== row[order[k - 1]]) {
      data[q] = row[order[k]];
      data[unique + q] = k;
      q++;
    }
    data[2 * unique + 1 + k] = order[k];
  }
  data[2 * unique] = n;
  return { data, unique };
}

export function embedding(ids: Tensor, table: Tensor, opts: EmbeddingOptions = {}): Tensor {
  const op = 'embedding';
  checkDtype(op, ids, 'i32');
  const half = isHalf(table.dtype);
  if (!half) checkDtype(op, table, 'f32');
  if (half && table.requiresGrad) fail(op, `a ${table.dtype} table is frozen; it cannot require grad`, table);
  checkRank(op, table, 2, 'table (V, C)');
  const [v, c] = table.shape;
  if (v === 0 || c === 0) fail(op, 'table must have at least one row and one column', table);
  const hostIds = opts.hostIds;
  if (hostIds && hostIds.length !== ids.size)
    fail(op, `hostIds has ${hostIds.length} entries but ids has ${ids.size}`, ids, table);
  const rt = ids.rt;
  const n = ids.size;
  const vec4 = c % 4 === 0;
  const sfx = vec4 ? '4' : '';
  const cu = vec4 ? c / 4 : c;
  const cblocks = Math.ceil(cu / WG);
  // Row ranges of the table that each fit one binding (one range when the table does).
  // A 16-bit table with an odd C needs an even row count per range, so every range starts on a
  // 4-byte boundary (bindings and buffer copies need it).
  let chunk = rowsPerChunk(op, table, v, c * (half ? 2 : 4));
  if (half && c % 2 === 1 && chunk < v) {
    if (chunk < 2) fail(op, `a ${table.dtype} table with odd C = ${c} needs two rows per binding`, table);
    chunk -= chunk % 2;
  }
  const ranges: [number, number][] = [];
  for (let r0 = 0; r0 < v; r0 += chunk) ranges.push([r0, Math.min(v, r0 + chunk)]);
  const params = (units: number, r0: number, r1: number, q0 = 0, unique = 0) =>
    new Uniforms()
      .u32(n)
      .u32(cu)
      .u32(v)
      .u32(units)
      .u32(cblocks)
      .u32(r0)
      .u32(r1 - r0)
      .u32(q0)
      .u32(unique)
      .bytes();
  const out = empty(rt, [...ids.shape, c], 'f32', op);
  if (n > 0) {
    const k = half
      ? rt.kernel(WGSL, `embedding_fwd_h${sfx}`, { WG, TABLE_DTYPE: table.dtype === 'bf16' ? 1 : 2 })
      : rt.kernel(WGSL, `embedding_fwd${sfx}`, { WG });
    for (const [r0, r1] of ranges) {
      const part = boundRows(table, r0, r1);
      rt.run(k, { uniforms: params(0, r0, r1), bindings: [ids, part.t, out], grid: grid1d(Math.ceil((n * cu) / WG)) });
      part.done();
    }
  }
  if (half) return out;
  // Built at forward time: the caller may reuse its hostIds array before the backward runs.
  let csr: { data: Int32Array; unique: number } | null = null;
  record(op, out, [ids, table], (dy) => {
    // A parameter with a gradient buffer (an arena view) gets its gradient added in place: no
    // (V, C) temporary, and no `grad += d_table` pass over a table that may exceed one binding.
    const inPlace = !table.node && !!table.grad && !table.grad.disposed;
    const dt = inPlace ? table.grad! : empty(rt, table.shape, 'f32', 'embedding_bwd.table');
    if (!inPlace && (csr || n === 0)) fill0(dt);
    if (n === 0) return [null, inPlace ? null : dt];
    const over = { WG, ACCUMULATE: inPlace };
    const csrT = csr && tensor(rt, csr.data, [csr.data.length], 'i32', 'embedding_bwd.csr');
    let q0 = 0;
    for (const [r0, r1] of ranges) {
      // init: rows the kernel does not write (csr) or adds to (in place) keep their values.
      const range = boundRows(dt, r0, r1, { write: true, init: true });
      const part = range.t;
      if (csr && csrT) {
        // Unique ids ascend: those of this range are the next run of them.
        let q1 = q0;
        while (q1 < csr.unique && csr.data[q1] < r1) q1++;
        if (q1 > q0) {
          rt.run(rt.kernel(WGSL, `embedding_bwd_csr${sfx}`, over), {
            uniforms: params(q1 - q0, r0, r1, q0, csr.unique),
            bindings: [csrT, dy, part],
            grid: grid1d((q1 - q0) * cblocks),
          });
        }
        q0 = q1;
      } else {
        rt.run(rt.kernel(WGSL, `embedding_bwd_scan${sfx}`, over), {
          uniforms: params(r1 - r0, r0, r1),
          bindings: [ids, dy, part],
          grid: grid1d((r1 - r0) * cblocks),
        });
      }
      range.done();
    }
    csrT?.dispose();
    return [null, inPlace ? null : dt];
  });
  if (out.node && hostIds && n > 0) csr = embeddingCsr(hostIds, v);
  return out;
}
