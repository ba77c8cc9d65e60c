// Property-test specs of the Philox generator (kernels/spec.ts): bit-exact against the CPU
// implementation for any seed, stream and offset.
import * as fc from 'fast-check';
import type { OpCase, OpSpec } from '../spec.ts';
import * as philox from './philox.ts';
import { philoxRowsRef } from './rng.ref.ts';
import { type Stream, philoxU32, philoxUniform, philoxUniformRows } from './rng.ts';

interface RngCase extends OpCase {
  params: { seed: number; stream: Stream; n: number; offset: number; rows: number };
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const rngCase = (rows: fc.Arbitrary<number>): fc.Arbitrary<RngCase> =>
  fc
    .record({
      seed: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
      stream: fc.oneof(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) as fc.Arbitrary<Stream>,
        fc.tuple(u32, fc.integer({ min: 0, max: 0xfffffff0 })),
        fc
          .tuple(fc.integer({ min: 1, max: 6 }), u32, fc.integer({ min: 0, max: 1000 }))
          .map(([t, a, b]) => philox.streamOf(t, a, b)),
      ),
      n: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.constantFrom(1, 2, 3, 4, 5, 255, 256, 257, 1031)),
      // small offsets (every residue mod 4), a block index crossing 2^32 (carry into counter word
      // c1), and offsets near 2^53
      offset: fc.oneof(
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 4 * (2 ** 32 - 40), max: 4 * (2 ** 32 + 4) }),
        fc.integer({ min: 2 ** 52, max: 2 ** 53 - 4096 }),
      ),
      rows,
    })
    .map((p) => ({ inputs: [], params: p }));

const rowsRef = (c: RngCase, uniform: boolean): ArrayLike<number> => {
  const { seed, stream, n, offset, rows } = c.params;
  return philoxRowsRef(seed, stream, rows, n, offset, uniform);
};

const exactTol = () => ({ atol: 0, rtol: 0 });

export const rngSpecs: OpSpec<RngCase>[] = [
  {
    name: 'rng.u32',
    kernel: 'rng',
    arb: rngCase(fc.constant(1)),
    gpu: (rt, _ins, c) => philoxU32(rt, c.params.seed, c.params.stream, c.params.n, c.params.offset),
    ref: (c) => rowsRef(c, false),
    tol: exactTol,
    exact: true,
  },
  {
    name: 'rng.uniform',
    kernel: 'rng',
    arb: rngCase(fc.constant(1)),
    gpu: (rt, _ins, c) => philoxUniform(rt, c.params.seed, c.params.stream, c.params.n, c.params.offset),
    ref: (c) => rowsRef(c, true),
    tol: exactTol,
    exact: true,
  },
  {
    name: 'rng.uniformRows',
    kernel: 'rng',
    arb: rngCase(fc.integer({ min: 1, max: 5 })).map((c) => {
      // rows need pair streams with room for s1 + rows - 1
      const [s0, s1] = philox.streamWords(c.params.stream);
      return { ...c, params: { ...c.params, stream: [s0, Math.min(s1, 0xffffffff - 8)] as const } };
    }),
    gpu: (rt, _ins, c) =>
      philoxUniformRows(
        rt,
        c.params.seed,
        c.params.stream as philox.StreamWords,
        c.params.rows,
        c.params.n,
        c.params.offset,
      ),
    ref: (c) => rowsRef(c, true),
    tol: exactTol,
    exact: true,
  },
];
