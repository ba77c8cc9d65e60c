// Sampling's Gumbel noise at float64 fidelity: the GPU transform at the far tails against float64
// (u = 2^-53 and 1 - 2^-53, where a 24-bit f32 uniform is capped near g = 17), the float64 oracle
// against hand-derived values, the GPU's keyed draws against the CPU's, and a chi-square of 10^7
// GPU draws over 20 bins of the Gumbel distribution including the tail P(g > 10).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeDevice, gpuDevice } from '../../tests/gpu.ts';
import { tensor } from '../../engine/tensor.ts';
import { gumbelAt, gumbelNoise } from './noise-probe.ts';
import { gumbelRef, noiseRef } from './sample-pick.ref.ts';

const TWO_32 = 2 ** 32;
/** n in [1, 2^54) as words (hi, lo); exact for the values used here. */
const words = (hi: number, lo: number): [number, number] => [hi, lo];
const close = (got: number, want: number, rel: number) => Math.abs(got - want) <= rel * Math.max(1, Math.abs(want));

test('float64 oracle: g(2^-53) = -ln(53 ln 2), g(1 - 2^-53) = 53 ln 2, g(1/2) = -ln ln 2', () => {
  assert.ok(close(gumbelRef(...words(0, 2)), -Math.log(53 * Math.LN2), 1e-15));
  // -ln(1 - 2^-53) = 2^-53 (1 + 2^-54 + ...): g = 53 ln 2 - 2^-54 to double precision
  assert.ok(close(gumbelRef(...words(2 ** 22 - 1, TWO_32 - 2)), 53 * Math.LN2, 1e-15));
  assert.ok(close(gumbelRef(...words(2 ** 21, 0)), -Math.log(Math.LN2), 1e-15));
  // the largest value a draw reaches: u = 1 - 2^-54
  assert.ok(close(gumbelRef(...words(2 ** 22 - 1, TWO_32 - 1)), 54 * Math.LN2, 1e-15));
});

test('GPU transform equals float64 within 1e-6 relative at the tails and across u', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const pts: [number, number][] = [
    words(0, 2), // u = 2^-53
    words(2 ** 22 - 1, TWO_32 - 2), // u = 1 - 2^-53
    words(0, 1), // the extremes a draw can reach: u = 2^-54 and 1 - 2^-54
    words(2 ** 22 - 1, TWO_32 - 1),
    words(2 ** 21 - 1, TWO_32 - 1), // both sides of u = 1/2, where the formula switches
    words(2 ** 21, 0),
    words(2 ** 21, 1),
    words(2 ** 22 - 2, 0), // deep tail g ~ 22 (where the words borrow)
    words(2 ** 22 - 1, 0),
  ];
  let s = 12345;
  const rand32 = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < 2000; i++) {
    // log-uniform distance from either end, so every octave of both tails is visited
    const m = Math.floor(2 ** (Math.floor(i / 2) % 54) * (1 + (rand32() / TWO_32) * 0.999));
    const n = Math.min(Math.max(m, 1), 2 ** 53); // distance from the end, as a double
    const hi = Math.floor(n / TWO_32),
      lo = n % TWO_32;
    if (i % 2 === 0) pts.push([hi, lo]);
    else {
      // 2^54 - n
      const l2 = lo === 0 ? 0 : TWO_32 - lo;
      pts.push([2 ** 22 - hi - (lo === 0 ? 0 : 1), l2]);
    }
  }
  const ns = tensor(rt, pts.flat(), [pts.length, 2], 'u32');
  const got = await gumbelAt(ns).read();
  ns.dispose();
  const bad: string[] = [];
  pts.forEach(([hi, lo], i) => {
    const want = gumbelRef(hi, lo);
    if (!close(got[i], want, 1e-6)) bad.push(`n = (${hi}, ${lo}): GPU ${got[i]} float64 ${want}`);
  });
  assert.equal(bad.slice(0, 5), [], `${bad.length} points off`);
  assert.ok(got[1] > 36.7, `g(1 - 2^-53) = ${got[1]}: the tail reaches float64's`);
});

test('the GPU draws are the keyed CPU draws (first 4096 ids of two keys)', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  for (const key of [
    { seed: 3, block: 0, step: 0, position: 0 },
    { seed: 2 ** 45 + 7, block: 77, step: 5, position: 2 ** 32 - 3 },
  ]) {
    const got = await gumbelNoise(rt, key, 4096).read();
    const keys = {
      block: key.block,
      rowsPerSeq: 1,
      start: key.position,
      seqs: [{ seed: key.seed, origin: 0, step: key.step }],
    };
    for (let v = 0; v < 4096; v++) {
      const want = noiseRef(keys, 0, v);
      if (!close(got[v], want, 1e-6))
        assert.unreachable(`key ${JSON.stringify(key)} id ${v}: GPU ${got[v]} CPU ${want}`);
    }
  }
});

test('chi-square of 10^7 GPU draws against the Gumbel distribution (20 bins, tail g > 10; 19 dof, alpha 1e-3)', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  // F(g) = exp(-exp(-g)); 19 equal-probability bins below g = 10 and the tail above it
  const F = (g: number) => Math.exp(-Math.exp(-g));
  const Finv = (p: number) => -Math.log(-Math.log(p));
  const p10 = F(10);
  const edges = Array.from({ length: 18 }, (_, i) => Finv((p10 * (i + 1)) / 19));
  const probs = [...new Array<number>(19).fill(p10 / 19), 1 - p10];
  const counts = new Array<number>(20).fill(0);
  const keys = 5,
    per = 2_000_000;
  let total = 0,
    maxG = -Infinity;
  for (let k = 0; k < keys; k++) {
    const g = await gumbelNoise(rt, { seed: 17 + k, block: k, step: 2 * k, position: 3 * k }, per).read();
    for (let i = 0; i < per; i++) {
      const x = g[i];
      let bin: number;
      if (x > 10) bin = 19;
      else {
        let lo = 0,
          hi = 18; // first edge above x
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (edges[mid] > x) hi = mid;
          else lo = mid + 1;
        }
        bin = lo;
      }
      counts[bin]++;
      if (x > maxG) maxG = x;
    }
    total += per;
  }
  const chi2 = counts.reduce((s, c, i) => s + (c - total * probs[i]) ** 2 / (total * probs[i]), 0);
  assert.ok(chi2 < 43.82, `chi-square ${chi2.toFixed(2)} >= 43.82; counts ${counts}`);
  // the tail bin alone (454 expected) within 4.5 sigma; the largest draw where 10^7 Gumbels put it (~16)
  assert.ok(Math.abs(counts[19] - total * probs[19]) < 4.5 * Math.sqrt(total * probs[19]), `tail ${counts[19]}`);
  assert.ok(maxG > 13 && maxG < 25, `largest of 10^7 draws ${maxG}`);
});

test.after(closeDevice);
test.run();
