// Launchers of the noise probes (noise-probe.wgsl) for tests, and the transform's property spec:
// the GPU Gumbel transform at given points, and the pick kernel's noise for a run of vocabulary ids
// under one key. Not exported by the library: sampling only ever reaches the noise through the pick.
import * as fc from 'fast-check';
import type { Runtime } from '../../engine/runtime.ts';
import { empty, tensor, type Tensor } from '../../engine/tensor.ts';
import { EngineError } from '../../engine/errors.ts';
import { seedKey, STREAM_TAG } from '../rng/philox.ts';
import { Uniforms, checkDtype, grid1d } from '../util.ts';
import type { OpCase, OpSpec } from '../spec.ts';
import { gumbelRef } from './sample-pick.ref.ts';

import WGSL from './noise-probe.wgsl.ts';
const WG = 64;

function probe(rt: Runtime, fill: boolean, ns: Tensor, n: number, key: number[], seed: number): Tensor {
  const out = empty(rt, [n], 'f32', 'gumbel.probe');
  const u = new Uniforms().u32(n).u32(key[0]).u32(key[1]).u32(key[2]).u32(seedKey(seed)[0]).u32(seedKey(seed)[1]);
  const threads = fill ? Math.ceil(n / 2) : n;
  rt.run(rt.kernel(WGSL, 'gumbel_probe', { WG, FILL: fill }), {
    uniforms: u.bytes(),
    bindings: [ns, out],
    grid: grid1d(Math.ceil(threads / WG), rt.limits.maxComputeWorkgroupsPerDimension),
  });
  return out;
}

/** g at u = n 2^-54 for each n given as u32 words (hi, lo): a (N, 2) u32 tensor in, f32 (N) out. */
export function gumbelAt(ns: Tensor): Tensor {
  checkDtype('gumbelAt', ns, 'u32');
  if (ns.rank !== 2 || ns.shape[1] !== 2) throw new EngineError(`gumbelAt: expected (N, 2) words, got [${ns.shape}]`);
  return probe(ns.rt, false, ns, ns.shape[0], [0, 0, 0], 0);
}

/** The pick kernel's Gumbel noise of vocabulary ids 0 .. n - 1 under one key, f32 (n). */
export function gumbelNoise(
  rt: Runtime,
  key: { seed: number; block: number; step: number; position: number },
  n: number,
): Tensor {
  const dummy = tensor(rt, [0, 0], [1, 2], 'u32');
  const out = probe(
    rt,
    true,
    dummy,
    n,
    [((STREAM_TAG.sampling << 24) | key.block) >>> 0, key.step, key.position],
    key.seed,
  );
  dummy.dispose();
  return out;
}

// Spec: the transform at points n (words hi, lo) drawn near u = 0, near u = 1 and anywhere, against
// float64 (sample-pick.ref.ts) within 1e-6 (absolute near g = 0, relative elsewhere).
const hiWord = fc.oneof(
  fc.integer({ min: 0, max: 3 }),
  fc.integer({ min: 2 ** 22 - 4, max: 2 ** 22 - 1 }),
  fc.integer({ min: 2 ** 21 - 2, max: 2 ** 21 + 1 }),
  fc.integer({ min: 0, max: 2 ** 22 - 1 }),
);
const loWord = fc.oneof(
  fc.integer({ min: 0, max: 64 }),
  fc.integer({ min: 2 ** 32 - 64, max: 2 ** 32 - 1 }),
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
);
const gumbelCase = fc.array(fc.tuple(hiWord, loWord), { minLength: 1, maxLength: 300 }).map((pts): OpCase => {
  const data = Uint32Array.from(pts.flatMap(([hi, lo]) => [hi, hi === 0 && lo === 0 ? 1 : lo]));
  return { inputs: [{ name: 'n', shape: [pts.length, 2], data, dtype: 'u32', grad: false }] };
});

export const gumbelSpecs: OpSpec[] = [
  {
    name: 'sample-pick.gumbel',
    kernel: 'sample-pick',
    arb: gumbelCase,
    gpu: (_rt, [ns]) => gumbelAt(ns),
    ref: (c) => {
      const d = c.inputs[0].data;
      return Float64Array.from({ length: d.length / 2 }, (_, i) => gumbelRef(d[2 * i], d[2 * i + 1]));
    },
    tol: () => ({ atol: 1e-6, rtol: 1e-6 }),
  },
];
