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
// Not here: sparse gradient output, padding_idx.
import { empty, fill0, isHalf, tensor, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { Uniforms, checkDtype, checkRank, fail, grid1d } from '../util.ts';
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
  const params = (units: number) => new Uniforms().u32(n).u32(cu).u32(v).u32(units).u32(cblocks).bytes();
  const out = empty(rt, [...ids.shape, c], 'f32', op);
  if (n > 0) {
    const k = half
      ? rt.kernel(WGSL, `embedding_fwd_h${sfx}`, { WG, TABLE_DTYPE: table.dtype === 'bf16' ? 1 : 2 })
      : rt.kernel(WGSL, `embedding_fwd${sfx}`, { WG });
    rt.run(k, { uniforms: params(0), bindings: [ids, table, out], grid: grid1d(Math.ceil((n * cu) / WG)) });
  }
  if (half) return out;
  // Built at forward time: the caller may reuse its hostIds array before the backward runs.
  let csr: { data: Int32Array; unique: number } | null = null;
  record(op, out, [ids, table], (dy) => {
    const dt = empty(rt, table.shape, 'f32', 'embedding_bwd.table');
    if (csr) {
      fill0(dt);
      const csrT = tensor(rt, csr.data, [csr.data.length], 'i32', 'embedding_bwd.csr');
      const k = rt.kernel(WGSL, `embedding_bwd_csr${sfx}`, { WG });
      rt.run(k, { uniforms: params(csr.unique), bindings: [csrT, dy, dt], grid: grid1d(csr.unique * cblocks) });
      csrT.dispose();
    } else if (n === 0) {
      fill0(dt);
    } else {
      const k = rt.kernel(WGSL, `embedding_bwd_scan${sfx}`, { WG });
      rt.run(k, { uniforms: params(v), bindings: [ids, dy, dt], grid: grid1d(v * cblocks) });
    }
    return [null, dt];
  });
  if (out.node && hostIds && n > 0) csr = embeddingCsr(hostIds, v);
  return out;
}
