// Tests for the Philox-4x32-10 reference: Random123 known-answer vectors, exact mulhi, the documented
// (seed, stream, index) mapping, and uniform-draw moments. Not a statistical test battery (Philox
// passes BigCrush per the paper); the moment checks only catch mapping or scaling mistakes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  mulhi32,
  philox4x32,
  philoxU32,
  philoxUniform,
  randomU32,
  streamOf,
  u32Below,
  uniformFloat,
} from './philox.ts';

const FC = { seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined, numRuns: 200 };
const u32 = fc.integer({ min: 0, max: 0xffffffff });

test('Random123 known-answer vectors for Philox4x32-10', () => {
  const cases: [number[], number[], number[]][] = [
    [
      [0, 0, 0, 0],
      [0, 0],
      [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
    ],
    [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    ],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
    ],
  ];
  for (const [ctr, key, want] of cases) {
    const got = philox4x32(ctr as [number, number, number, number], key as [number, number]);
    assert.equal(Array.from(got), want, `counter ${ctr.map((x) => x.toString(16))}`);
  }
});

test('mulhi32 equals the high word of the exact 64-bit product', () => {
  fc.assert(
    fc.property(u32, u32, (a, b) => {
      const want = Number((BigInt(a) * BigInt(b)) >> 32n);
      return mulhi32(a, b) === want;
    }),
    FC,
  );
  assert.is(mulhi32(0xffffffff, 0xffffffff), 0xfffffffe);
});

test('randomU32 follows the documented counter mapping', () => {
  // element i of stream [s0, s1] under seed = key (lo, hi) is word i%4 of block floor(i/4)
  const seed = 2 ** 40 + 12345;
  const key: [number, number] = [12345, 256];
  const block = philox4x32([7, 0, 11, 22], key);
  for (let w = 0; w < 4; w++) assert.is(randomU32(seed, [11, 22], 7 * 4 + w), block[w]);
  // a numeric stream splits into (low 32 bits, high bits)
  assert.is(randomU32(1, 2 ** 32 * 3 + 5, 2), philox4x32([0, 0, 5, 3], [1, 0])[2]);
  // a block index beyond 2^32 uses counter word c1
  const big = 4 * (2 ** 32 + 9) + 1;
  assert.is(randomU32(1, 0, big), philox4x32([9, 1, 0, 0], [1, 0])[1]);
});

test('philoxU32 with any offset equals element-wise randomU32', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 53 - 1 }),
      u32,
      u32,
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 2 ** 40 }),
      (seed, s0, s1, n, offset) => {
        const xs = philoxU32(seed, [s0, s1], n, offset);
        for (let i = 0; i < n; i++) if (xs[i] !== randomU32(seed, [s0, s1], offset + i)) return false;
        return xs.length === n;
      },
    ),
    FC,
  );
});

test('different seeds, streams and stream tags give different sequences', () => {
  const a = philoxU32(1, streamOf(1, 5, 0), 8);
  const b = philoxU32(2, streamOf(1, 5, 0), 8);
  const c = philoxU32(1, streamOf(2, 5, 0), 8);
  const d = philoxU32(1, streamOf(1, 5, 1), 8);
  for (const other of [b, c, d]) assert.not.equal(Array.from(a), Array.from(other));
  assert.equal(streamOf(2, 7, 3), [7, 0x02000003]);
  assert.throws(() => streamOf(1, 0, 2 ** 24), /2\^24/);
  assert.throws(() => randomU32(-1, 0, 0), /seed/);
  assert.throws(() => randomU32(0.5, 0, 0), /seed/);
});

test('uniformFloat is exact in f32 and lies in [0, 1)', () => {
  assert.is(uniformFloat(0), 0);
  assert.is(uniformFloat(0xffffffff), 1 - 2 ** -24);
  assert.is(uniformFloat(0x80000000), 0.5);
  fc.assert(
    fc.property(u32, (u) => {
      const x = uniformFloat(u);
      return x >= 0 && x < 1 && Math.fround(x) === x && x === Math.floor(u / 256) / 2 ** 24;
    }),
    FC,
  );
});

test('uniform draws have mean 1/2 and variance 1/12 (5-sigma bounds, n = 200000)', () => {
  const n = 200_000;
  const x = philoxUniform(42, streamOf(3, 0, 0), n);
  let s = 0;
  for (const v of x) s += v;
  const mean = s / n;
  let ss = 0;
  for (const v of x) ss += (v - mean) ** 2;
  const variance = ss / (n - 1);
  // sd(mean) = sqrt(1/12 / n); sd(sample variance) = sqrt((1/80 - 1/144) / n) for U[0,1)
  assert.ok(Math.abs(mean - 0.5) < 5 * Math.sqrt(1 / 12 / n), `mean ${mean}`);
  assert.ok(Math.abs(variance - 1 / 12) < 5 * Math.sqrt((1 / 80 - 1 / 144) / n), `variance ${variance}`);
  // and each of 10 equal bins holds 10% +- 5 sigma of a binomial
  const bins = new Array<number>(10).fill(0);
  for (const v of x) bins[Math.floor(v * 10)]++;
  const sd = Math.sqrt(n * 0.1 * 0.9);
  for (const b of bins) assert.ok(Math.abs(b - n * 0.1) < 5 * sd, `bins ${bins}`);
});

test('u32Below maps to [0, n) as floor(u * n / 2^32)', () => {
  fc.assert(
    fc.property(u32, fc.integer({ min: 1, max: 0xffffffff }), (u, n) => {
      const j = u32Below(u, n);
      return j >= 0 && j < n && j === Number((BigInt(u) * BigInt(n)) >> 32n);
    }),
    FC,
  );
});

test.run();
