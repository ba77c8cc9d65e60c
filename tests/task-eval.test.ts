// Tests for the train command's held-out scoring (cli/task-eval.ts): per-stratum counts add up to
// the examples scored, and the result line names every stratum and probe with its own figure.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { byStratum, formatLayoutScore } from '../cli/task-eval.ts';
import { taskStratum } from '../train/tasks.ts';

const FC = { seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined, numRuns: 50 };

test('byStratum counts each example once, under its own stratum', () => {
  const pair = fc.tuple(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.boolean());
  fc.assert(
    fc.property(fc.array(pair, { maxLength: 60 }), (pairs) => {
      const ex = pairs.map(([a, b, ok]) => ({ prompt: `${a}+${b}=`, output: '', ok }));
      const s = byStratum('addition', ex);
      assert.is(
        Object.values(s).reduce((n, v) => n + v.total, 0),
        ex.length,
      );
      for (const [k, v] of Object.entries(s)) {
        const mine = ex.filter((e) => taskStratum('addition', e.prompt) === k);
        assert.is(v.total, mine.length);
        assert.is(v.correct, mine.filter((e) => e.ok).length);
        assert.is(v.accuracy, v.correct / v.total);
      }
      assert.equal(Object.keys(s), [...Object.keys(s)].sort());
    }),
    FC,
  );
});

test('the result line gives the layout, the held-out figure, each stratum and each probe', () => {
  const line = formatLayoutScore('addition', {
    gen_length: 8,
    heldout: { accuracy: 0.5, correct: 2, total: 4 },
    strata: { '1+1': { accuracy: 1, correct: 1, total: 1 }, '2+2': { accuracy: 1 / 3, correct: 1, total: 3 } },
    probes: { 'one-digit sums (all 100)': { accuracy: 0.97, correct: 97, total: 100 } },
    nfe: 0,
    seconds: 0,
    wrong: [],
  });
  assert.is(
    line,
    'addition gen 8 (block 8, steps 8): held-out 50.0% (2/4) | 1+1 100.0% (1/1) | 2+2 33.3% (1/3) | ' +
      'one-digit sums (all 100) 97.0% (97/100)',
  );
});

test.run();
