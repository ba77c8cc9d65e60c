// Tests for MDLM corruption and the loss reference: masking rate against its binomial law, prompt
// positions untouched, draws independent of call order and micro-batch split (what resume and
// gradient accumulation rely on), and hand-computed losses for both normalisations.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import type { Batch } from './data-order.ts';
import {
  foldNormalizer,
  mdlmCorrupt,
  mdlmLossPerAnswerLength,
  mdlmLossReference,
  mdlmT,
  stepNormalizer,
  supervisedTokenCount,
} from './mdlm.ts';

const FC = { seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined, numRuns: 60 };
const MASK = 99;

function batchOf(B: number, T: number, promptLens: number[], supervised?: number[]): Batch {
  const inputIds = new Int32Array(B * T);
  const promptMask = new Uint8Array(B * T);
  const lossMask = new Uint8Array(B * T);
  const answerLength = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const sup = supervised?.[b] ?? T - promptLens[b];
    for (let i = 0; i < T; i++) {
      inputIds[b * T + i] = (b * 7 + i) % 50;
      promptMask[b * T + i] = i < promptLens[b] ? 1 : 0;
      lossMask[b * T + i] = i >= promptLens[b] && i < promptLens[b] + sup ? 1 : 0;
    }
    answerLength[b] = sup;
  }
  return { B, T, inputIds, promptMask, lossMask, answerLength };
}

function slice(batch: Batch, from: number, to: number): Batch {
  const T = batch.T;
  return {
    B: to - from,
    T,
    inputIds: batch.inputIds.slice(from * T, to * T),
    promptMask: batch.promptMask.slice(from * T, to * T),
    lossMask: batch.lossMask.slice(from * T, to * T),
    answerLength: batch.answerLength.slice(from, to),
  };
}

test('masked count per row follows Binomial(T, p): chi-square within 5 sigma', () => {
  // N rows of T maskable positions. Given p_b, the count is Binomial(T, p_b), so
  // X = sum_b (k_b - T p_b)^2 / (T p_b (1 - p_b)) has mean N and variance ~2N (chi-square, N dof).
  const N = 2000;
  const T = 64;
  const batch = batchOf(N, T, new Array<number>(N).fill(0));
  const eps = 0.3; // large, so masking with t instead of p would fail the test
  const c = mdlmCorrupt(batch, { seed: 5, step: 17, sampleOffset: 0, maskId: MASK, eps });
  let chi2 = 0;
  let tSum = 0;
  for (let b = 0; b < N; b++) {
    let k = 0;
    for (let i = 0; i < T; i++) k += c.maskedMask[b * T + i];
    const p = c.p[b];
    chi2 += (k - T * p) ** 2 / (T * p * (1 - p));
    tSum += (p - eps) / (1 - eps);
  }
  assert.ok(Math.abs(chi2 - N) < 5 * Math.sqrt(2 * N), `chi2 ${chi2} for ${N} rows`);
  // t ~ U[0,1): mean within 5 sigma of 1/2, sd(mean) = sqrt(1/12/N)
  assert.ok(Math.abs(tSum / N - 0.5) < 5 * Math.sqrt(1 / 12 / N), `mean t ${tSum / N}`);
});

test('prompt positions are never masked; masks, noisy ids and weights agree', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 2, max: 24 }),
      fc.integer({ min: 0, max: 1000 }),
      fc.integer({ min: 1, max: 100_000 }),
      fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
      fc.double({ min: 1e-4, max: 1, noNaN: true }),
      (B, T, seed, step, lens, eps) => {
        const promptLens = lens.slice(0, B).map((l) => l % T);
        const batch = batchOf(
          B,
          T,
          promptLens,
          promptLens.map((l) => Math.max(0, T - l - 1)),
        );
        const c = mdlmCorrupt(batch, { seed, step, sampleOffset: 3, maskId: MASK, eps });
        for (let k = 0; k < B * T; k++) {
          const b = Math.floor(k / T);
          const masked = c.noisyIds[k] === MASK;
          if (batch.promptMask[k] && masked) return false;
          if (!masked && c.noisyIds[k] !== batch.inputIds[k]) return false;
          if (c.maskedMask[k] !== (masked && batch.lossMask[k] ? 1 : 0)) return false;
          const w = c.maskedMask[k] ? Math.fround(1 / c.p[b]) : 0;
          if (c.weights[k] !== w) return false;
          if (c.p[b] < eps || c.p[b] > 1) return false;
        }
        return true;
      },
    ),
    FC,
  );
});

test('draws depend only on (seed, step, sample): call order and micro-batch split do not matter', () => {
  const B = 8;
  const T = 12;
  const full = batchOf(B, T, [2, 3, 0, 5, 1, 4, 2, 0]);
  const o = { seed: 11, step: 300, maskId: MASK, eps: 1e-3 };
  const whole = mdlmCorrupt(full, { ...o, sampleOffset: 0 });
  // second micro-batch first, then the first: as a resumed run or another accumulation order would
  const second = mdlmCorrupt(slice(full, 4, 8), { ...o, sampleOffset: 4 });
  const first = mdlmCorrupt(slice(full, 0, 4), { ...o, sampleOffset: 0 });
  assert.equal(Array.from(whole.noisyIds), [...first.noisyIds, ...second.noisyIds]);
  assert.equal(Array.from(whole.weights), [...first.weights, ...second.weights]);
  // and a different step or seed changes them
  const otherStep = mdlmCorrupt(full, { ...o, step: 301, sampleOffset: 0 });
  const otherSeed = mdlmCorrupt(full, { ...o, seed: 12, sampleOffset: 0 });
  assert.not.equal(Array.from(otherStep.noisyIds), Array.from(whole.noisyIds));
  assert.not.equal(Array.from(otherSeed.noisyIds), Array.from(whole.noisyIds));
});

test('p = (1 - eps) t + eps with t from the mdlmT stream', () => {
  const batch = batchOf(3, 4, [0, 0, 0]);
  const c = mdlmCorrupt(batch, { seed: 9, step: 4, sampleOffset: 10, maskId: MASK, eps: 0.25 });
  for (let b = 0; b < 3; b++) assert.is(c.p[b], 0.75 * mdlmT(9, 4, 10 + b) + 0.25);
});

// Tiny case, V = 2: row 0 logits [0, ln3] (p(1) = 3/4) and [0, 0]; row 1 [ln3, 0] and [0, 0].
// Targets [1, 0 | 1, 1]: CE = -ln(3/4), ln 2 | -ln(1/4) = ln 4, ln 2.
// Row 0 has p = 1/2 with both positions masked; row 1 p = 1/4 with position 0 masked, and row 1
// supervises only position 0 (answer_length 1).
const L3 = Math.log(3);
const logits = new Float32Array([0, L3, 0, 0, L3, 0, 0, 0]);
const targets = new Int32Array([1, 0, 1, 1]);
const rawWeights = new Float32Array([2, 2, 4, 0]);
const tiny: Batch = {
  B: 2,
  T: 2,
  inputIds: targets,
  promptMask: new Uint8Array(4),
  lossMask: new Uint8Array([1, 1, 1, 0]),
  answerLength: new Int32Array([2, 1]),
};
const tinyCorruption = {
  noisyIds: new Int32Array([MASK, MASK, MASK, 1]),
  maskedMask: new Uint8Array([1, 1, 1, 0]),
  weights: rawWeights,
  p: new Float64Array([0.5, 0.25]),
};

test('token normalisation: hand-computed loss', () => {
  // (2 * -ln(3/4) + 2 * ln 2 + 4 * ln 4) / 3 supervised tokens
  const want = (2 * -Math.log(0.75) + 2 * Math.log(2) + 4 * Math.log(4)) / 3;
  assert.ok(Math.abs(want - 2.5022786501676717) < 1e-12);
  assert.is(supervisedTokenCount([tiny]), 3);
  assert.ok(Math.abs(mdlmLossReference(logits, targets, rawWeights, 2, 3) - want) < 1e-6);
  const folded = foldNormalizer(tinyCorruption, tiny, stepNormalizer('token', [tiny]));
  assert.ok(Math.abs(mdlmLossReference(logits, targets, folded, 2) - want) < 1e-6);
});

test('answer_length normalisation: hand-computed loss', () => {
  // ((2 * -ln(3/4) + 2 * ln 2) / 2 + (4 * ln 4) / 1) / 2 sequences
  const want = ((2 * -Math.log(0.75) + 2 * Math.log(2)) / 2 + 4 * Math.log(4)) / 2;
  assert.ok(Math.abs(want - 3.2630033487456442) < 1e-12);
  const ref = mdlmLossPerAnswerLength(logits, targets, rawWeights, tiny.answerLength, 2);
  assert.ok(Math.abs(ref - want) < 1e-6, `${ref}`);
  const folded = foldNormalizer(tinyCorruption, tiny, stepNormalizer('answer_length', [tiny]));
  assert.ok(Math.abs(mdlmLossReference(logits, targets, folded, 2) - want) < 1e-6);
});

test('folded weights summed over micro-batches equal the whole-step loss (both normalisations)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 99 }),
      (micro, B, seed) => {
        const T = 6;
        const V = 5;
        const batches = Array.from({ length: micro }, (_, m) =>
          batchOf(
            B,
            T,
            Array.from({ length: B }, (_, b) => (m + b) % 3),
          ),
        );
        for (const kind of ['token', 'answer_length'] as const) {
          const norm = stepNormalizer(kind, batches);
          let foldedSum = 0;
          let rawNum = 0;
          let perAnswer = 0;
          batches.forEach((batch, m) => {
            const c = mdlmCorrupt(batch, { seed, step: 2, sampleOffset: m * B, maskId: MASK, eps: 0.1 });
            const lg = new Float32Array(B * T * V).map((_, i) => Math.sin(i * 1.7 + seed));
            const tg = batch.inputIds.map((x) => x % V);
            foldedSum += mdlmLossReference(lg, tg, foldNormalizer(c, batch, norm), V);
            rawNum += mdlmLossReference(lg, tg, c.weights, V);
            perAnswer += mdlmLossPerAnswerLength(lg, tg, c.weights, batch.answerLength, V) * batch.B;
          });
          const want = kind === 'token' ? rawNum / supervisedTokenCount(batches) : perAnswer / (micro * B);
          if (Math.abs(foldedSum - want) > 1e-5 * Math.max(1, Math.abs(want))) return false;
        }
        return true;
      },
    ),
    FC,
  );
});

test.run();
