// Tests for random generation lengths: a row laid out for gen length G is exactly the row the data
// pipeline builds with seq_length = prompt + G (answer, end token, EOS padding, or the answer cut
// without its end token), the padding past a row's end is hidden, unmasked and unsupervised, the
// drawn G covers its range as a pure function of (seed, step, micro-batch), and on the GPU a
// ragged batch's loss equals the sum of its rows' losses, each run alone at its own length.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { tokenizeExamples, type TokenizeOptions } from './data.ts';
import { makeBatch } from './data-order.ts';
import { drawGenLength, layoutForGenLength } from './gen-length.ts';
import { allRows, fakeTokenizer } from './fake-tokenizer.test-util.ts';
import { VALIDATION_STEP, foldNormalizer, mdlmCorrupt, stepNormalizer } from './mdlm.ts';
import { batchLoss, stepBatch } from './trainer.ts';
import { defaultTrainConfig } from './config-schema.ts';
import { closeDevice, fcParams, gpuDevice } from '../tests/gpu.ts';
import { createConfig } from '../model/config.ts';
import { createModel } from '../model/io.ts';
import { noGradAsync } from '../engine/autograd.ts';

const FC = { seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined, numRuns: 60 };
const OPTS: Omit<TokenizeOptions, 'seqLength'> = {
  format: 'prompt_response',
  truncation: 'truncate',
  supervisePadding: true,
  useChatTemplate: false,
  skipMalformed: false,
};
const word = (min: number, max: number) =>
  fc.array(fc.constantFrom(...'abc0123+='), { minLength: min, maxLength: max }).map((a) => a.join(''));
const example = fc.record({ prompt: word(1, 6), response: word(0, 6) });

test('a row laid out for gen length G is the row built with seq_length = prompt + G', () => {
  fc.assert(
    fc.property(
      fc.array(example, { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 10 }),
      fc.boolean(),
      (examples, G, supervisePadding) => {
        const tok = fakeTokenizer();
        const T = 16; // >= the longest prompt (6) + the longest G (10)
        const ds = tokenizeExamples(examples, tok, { ...OPTS, supervisePadding, seqLength: T }, 'x');
        const out = layoutForGenLength(
          makeBatch(
            ds,
            examples.map((_, i) => i),
          ),
          G,
        );
        const lens = examples.map((e) => e.prompt.length + G);
        assert.is(out.T, Math.max(...lens));
        assert.is(
          out.keyMask === undefined,
          lens.every((l) => l === out.T),
        );
        examples.forEach((e, b) => {
          const L = lens[b];
          const alone = tokenizeExamples([e], tok, { ...OPTS, supervisePadding, seqLength: L }, 'y');
          const row = <A extends ArrayLike<number>>(a: A) => Array.from(a).slice(b * out.T, (b + 1) * out.T);
          assert.equal(row(out.inputIds).slice(0, L), Array.from(allRows(alone).inputIds), `ids of row ${b}`);
          assert.equal(row(out.lossMask).slice(0, L), Array.from(allRows(alone).lossMask), `loss mask of row ${b}`);
          assert.equal(
            row(out.promptMask).slice(0, L),
            Array.from(allRows(alone).promptMask),
            `prompt mask of row ${b}`,
          );
          assert.is(out.answerLength[b], alone.answerLength[0]);
          // past the row's end: hidden from attention, never masked (prompt), never supervised
          const tail = (a: number[]) => a.slice(L);
          assert.ok(tail(row(out.lossMask)).every((m) => m === 0));
          assert.ok(tail(row(out.promptMask)).every((m) => m === 1));
          if (out.keyMask)
            assert.equal(row(out.keyMask), [...Array<number>(L).fill(1), ...Array<number>(out.T - L).fill(0)]);
        });
      },
    ),
    FC,
  );
});

test('the drawn gen length covers [min, max], is a pure function of (seed, step, micro-batch)', () => {
  const r = { min: 4, max: 16 };
  const seen = new Map<number, number>();
  for (let step = 1; step <= 2000; step++) {
    const g = drawGenLength(42, step, 0, r);
    assert.ok(g >= r.min && g <= r.max, `step ${step}: ${g}`);
    assert.is(drawGenLength(42, step, 0, r), g);
    seen.set(g, (seen.get(g) ?? 0) + 1);
  }
  // 13 values, 2000 draws: each expected 154, sd ~12; 5 sd either way
  for (let g = r.min; g <= r.max; g++)
    assert.ok(Math.abs((seen.get(g) ?? 0) - 2000 / 13) < 60, `G=${g}: ${seen.get(g)}`);
  const differs = (f: (s: number) => number) =>
    Array.from({ length: 50 }, (_, s) => f(s + 1)).some((g, s) => g !== drawGenLength(42, s + 1, 0, r));
  assert.ok(
    differs((s) => drawGenLength(43, s, 0, r)),
    'the seed changes the draws',
  );
  assert.ok(
    differs((s) => drawGenLength(42, s, 1, r)),
    'the micro-batch changes the draws',
  );
  assert.is(drawGenLength(1, 5, 0, { min: 7, max: 7 }), 7);
});

test('GPU: a ragged batch loss equals the sum of its rows run alone at their own lengths', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const tok = fakeTokenizer();
  const model = createModel(
    createConfig({
      d_model: 16,
      n_heads: 2,
      n_kv_heads: 2,
      n_layers: 1,
      mlp_hidden_size: 24,
      vocab_size: tok.vocabSize,
      embedding_size: tok.vocabSize,
      init_std: 0.3,
    }),
    { device: rt, seed: 3 },
  );
  const cfg = defaultTrainConfig();
  cfg.dataset.gen_length = [2, 9];
  await fc.assert(
    fc.asyncProperty(fc.array(example, { minLength: 2, maxLength: 5 }), fc.nat(1000), async (examples, seed) => {
      const ds = tokenizeExamples(examples, tok, { ...OPTS, seqLength: 16 }, 'x');
      cfg.seed = seed;
      const batch = stepBatch(
        cfg,
        makeBatch(
          ds,
          examples.map((_, i) => i),
        ),
        VALIDATION_STEP,
        0,
      );
      const c = mdlmCorrupt(batch, { seed, step: VALIDATION_STEP, sampleOffset: 0, maskId: tok.maskId, eps: 1e-3 });
      const w = foldNormalizer(c, batch, stepNormalizer('token', [batch]));
      const [whole, alone] = await noGradAsync(() =>
        rt.scope(async () => {
          const got = (await batchLoss(model, batch, c.noisyIds, w).read())[0];
          let sum = 0;
          for (let b = 0; b < batch.B; b++) {
            const T = batch.keyMask
              ? batch.keyMask.subarray(b * batch.T, (b + 1) * batch.T).reduce((s, m) => s + m, 0)
              : batch.T;
            const cut = <A extends Int32Array | Uint8Array | Float32Array>(a: A) =>
              a.slice(b * batch.T, b * batch.T + T) as A;
            const row = {
              B: 1,
              T,
              inputIds: cut(batch.inputIds),
              promptMask: cut(batch.promptMask),
              lossMask: cut(batch.lossMask),
              answerLength: batch.answerLength.slice(b, b + 1),
            };
            sum += (await batchLoss(model, row, cut(c.noisyIds), cut(w)).read())[0];
          }
          return [got, sum];
        }),
      );
      assert.ok(
        Math.abs(whole - alone) <= 1e-5 * Math.max(1, Math.abs(alone)),
        `batch ${whole} vs rows alone ${alone}`,
      );
    }),
    fcParams(8),
  );
  model.dispose();
});

test.after(closeDevice);
test.run();
