// Property-test spec of the embedding lookup and its deterministic backward (kernels/spec.ts).
import * as fc from 'fast-check';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s, halfBits } from '../arb.ts';
import { embeddingBackwardRef, embeddingRef } from './embedding.ref.ts';
import { halfValues, type HalfKind } from '../half.ref.ts';
import { embedding } from './embedding.ts';

interface EmbeddingCase extends OpCase {
  params: { v: number; c: number; kind?: HalfKind };
}

// C: small, primes and the 64-channel block +- 1; V 1-50; ids drawn from a few rows (repeats),
// with some out of range (clamped) in a fraction of cases.
const caseArb = fc
  .record({
    v: fc.integer({ min: 1, max: 50 }),
    c: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(1, 2, 13, 31, 63, 64, 65)),
    lead: fc.oneof(
      fc.integer({ min: 1, max: 30 }).map((n) => [n]),
      fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 9 })),
    ),
    spread: fc.integer({ min: 1, max: 50 }),
    outOfRange: fc.boolean(),
  })
  .chain(({ v, c, lead, spread, outOfRange }) => {
    const shape = [...lead];
    const n = shape.reduce((p, d) => p * d, 1);
    const id = outOfRange
      ? fc.oneof(fc.integer({ min: 0, max: Math.min(v, spread) - 1 }), fc.constantFrom(-5, -1, v, v + 7))
      : fc.integer({ min: 0, max: Math.min(v, spread) - 1 });
    return fc.tuple(fc.array(id, { minLength: n, maxLength: n }), f32s(v * c)).map(([ids, t]): EmbeddingCase => ({
      inputs: [
        { name: 'ids', shape, data: Int32Array.from(ids), dtype: 'i32' },
        { name: 'table', shape: [v, c], data: t },
      ],
      params: { v, c },
    }));
  });

const spec = (name: string, withHostIds: boolean): OpSpec<EmbeddingCase> => ({
  name,
  kernel: 'embedding',
  arb: caseArb,
  gpu: (_rt, [ids, t], c) => embedding(ids, t, withHostIds ? { hostIds: c.inputs[0].data as Int32Array } : {}),
  ref: (c) => embeddingRef(c.inputs[0].data, c.inputs[1].data, c.params.v, c.params.c),
  refBackward: (c, g) => [null, embeddingBackwardRef(c.inputs[0].data, c.params.v, c.params.c, g)],
  // Forward is a copy; the backward sums at most N terms of |dy| <= 1 in f32.
  tol: () => ({ atol: 0, rtol: 0 }),
  gradTol: (c) => ({ atol: 1e-7 * c.inputs[0].data.length, rtol: 1e-6 }),
});

/** A bf16 or f16 table (its bits from the same values), forward only: such tables are frozen. */
const halfSpec: OpSpec<EmbeddingCase> = {
  name: 'embedding.half',
  kernel: 'embedding',
  arb: fc.tuple(caseArb, fc.constantFrom<HalfKind>('bf16', 'f16')).map(([c, kind]) => ({
    inputs: [c.inputs[0], { ...c.inputs[1], data: halfBits(c.inputs[1].data as Float32Array, kind), dtype: kind }],
    params: { ...c.params, kind },
  })),
  gpu: (_rt, [ids, t]) => embedding(ids, t),
  ref: (c) => embeddingRef(c.inputs[0].data, halfValues(c.inputs[1].data, c.params.kind!), c.params.v, c.params.c),
  tol: () => ({ atol: 0, rtol: 0 }),
};

export const embeddingSpecs: OpSpec<EmbeddingCase>[] = [
  spec('embedding.csr', true),
  spec('embedding.scan', false),
  halfSpec,
];
