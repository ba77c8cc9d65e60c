// RoPE launcher and autograd: LLaDA's half-rotated rotary embedding over x of shape
// (B, T, H, D) (GSAI-ML/LLaDA modeling_llada.py RotaryEmbedding; LLaDA-8B uses theta = 500000).
// The cos/sin table is computed on the host in float64 (more exact and cheaper than f32 pow/sin on
// the GPU) and cached per runtime and (D, theta), covering positions [0, P) with P a power of two
// that grows on demand; an offset or an explicit position list indexes into it in the kernel, so
// one table serves every T and offset. Superseded tables are kept (not disposed) because a
// pending backward may still read them: their total stays below the size of the newest.
// Kernels move vec4s when D % 8 == 0 (every LLaDA head dim), scalars otherwise.
// Not here: partial rotary dims or position scaling (LLaDA uses neither).
import type { Runtime } from '../../engine/runtime.ts';
import { empty, tensor, type Tensor } from '../../engine/tensor.ts';
import { record } from '../../engine/autograd.ts';
import { Uniforms, checkDtype, checkRank, fail, grid1d } from '../util.ts';

import WGSL from './rope.wgsl.ts';
const WG = 64;
const MIN_TABLE_POSITIONS = 256;

export interface RopeOptions {
  /** RoPE base (LLaDA-8B: 500000). */
  theta: number;
  /** Start offset (positions offset .. offset+T-1 for every batch row; default 0), or explicit
   * integer positions >= 0: T entries shared by all batch rows, or B*T entries. */
  positions?: Int32Array | number;
}

interface CosSinTable {
  table: Tensor; // (P, D/2, 2): cos, sin
  positions: number; // P
  superseded: Tensor[];
}

const tables = new WeakMap<Runtime, Map<string, CosSinTable>>();

/** The cached cos/sin table for (D, theta) covering positions [0, needed). */
function cosSinTable(rt: Runtime, d: number, theta: number, needed: number): Tensor {
  let perRt = tables.get(rt);
  if (!perRt) tables.set(rt, (perRt = new Map<string, CosSinTable>()));
  const key = `${d}:${theta}`;
  const hit = perRt.get(key);
  if (hit && hit.positions >= needed && !hit.table.disposed) return hit.table;
  const p = Math.max(MIN_TABLE_POSITIONS, 2 ** Math.ceil(Math.log2(Math.max(needed, 1))));
  const half = d / 2;
  const data = new Float32Array(p * half * 2);
  for (let i = 0; i < half; i++) {
    // Same expression as LLaDA's inv_freq = 1 / theta^(arange(0, D, 2) / D), in float64.
    const invFreq = 1 / Math.pow(theta, (2 * i) / d);
    for (let pos = 0; pos < p; pos++) {
      const a = pos * invFreq;
      data[(pos * half + i) * 2] = Math.cos(a);
      data[(pos * half + i) * 2 + 1] = Math.sin(a);
    }
  }
  const table = tensor(rt, data, [p, half, 2], 'f32', `rope.table[D=${d},theta=${theta}]`).keep();
  const superseded = hit ? [...hit.superseded, hit.table] : [];
  perRt.set(key, { table, positions: p, superseded });
  return table;
}

export function rope(x: Tensor, opts: RopeOptions): Tensor {
  const op = 'rope';
  checkDtype(op, x, 'f32');
  checkRank(op, x, 4, 'x (B, T, H, D)');
  const [B, T, H, D] = x.shape;
  if (D % 2 !== 0) fail(op, `head dim D must be even, got D = ${D}`, x);
  const theta = opts.theta;
  if (!(theta > 0) || !Number.isFinite(theta)) fail(op, `theta must be a finite number > 0, got ${theta}`, x);
  const rt = x.rt;
  const half = D / 2;
  const n = B * T * H * half;
  const pos = opts.positions ?? 0;
  let maxPos: number;
  let posTensor: Tensor | null = null;
  let perBatch = 0;
  if (typeof pos === 'number') {
    if (!Number.isInteger(pos) || pos < 0) fail(op, `position offset must be an integer >= 0, got ${pos}`, x);
    maxPos = pos + T - 1;
  } else {
    if (pos.length !== T && pos.length !== B * T) {
      fail(op, `positions must have T = ${T} or B*T = ${B * T} entries, got ${pos.length}`, x);
    }
    maxPos = 0;
    for (const v of pos) {
      if (v < 0) fail(op, `positions must be >= 0, got ${v}`, x);
      maxPos = Math.max(maxPos, v);
    }
    perBatch = pos.length === T ? 0 : 1;
  }
  if (n === 0) return record(op, empty(rt, x.shape, 'f32', op), [x], (g) => [empty(rt, g.shape, 'f32', 'rope_bwd')]);
  const table = cosSinTable(rt, D, theta, maxPos + 1);
  if (typeof pos !== 'number') posTensor = tensor(rt, Uint32Array.from(pos), [pos.length], 'u32', 'rope.positions');
  const pos0 = typeof pos === 'number' ? pos : 0;
  const vec4 = half % 4 === 0;
  const units = vec4 ? n / 4 : n;
  const u = new Uniforms()
    .u32(units)
    .u32(T)
    .u32(H)
    .u32(vec4 ? half / 4 : half)
    .u32(pos0)
    .u32(perBatch)
    .bytes();
  const entry = `${posTensor ? 'rope_positions' : 'rope_offset'}${vec4 ? '4' : ''}`;
  const launch = (src: Tensor, sgn: number, label: string): Tensor => {
    const out = empty(rt, src.shape, 'f32', label);
    const bindings = posTensor ? [src, table, out, posTensor] : [src, table, out];
    rt.run(rt.kernel(WGSL, entry, { WG, SGN: sgn }), { uniforms: u, bindings, grid: grid1d(Math.ceil(units / WG)) });
    return out;
  };
  const y = launch(x, 1, op);
  record(op, y, [x], (g) => [launch(g, -1, 'rope_bwd')]);
  if (!y.node) posTensor?.dispose(); // kept only for the backward
  return y;
}
