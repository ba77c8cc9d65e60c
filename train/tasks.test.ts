// Tests for the builtin tasks: the held-out split never overlaps training, is stratified by operand
// digits for addition and by digit count for reverse, splits are deterministic in their seed,
// formats fit a char tokenizer (reverse: the default model's charset), and the answer checker is exact.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  ADDITION_STRATA,
  additionHeldoutCounts,
  checkTaskAnswer,
  oneDigitAdditionPrompts,
  REVERSE_MAX_LEN,
  REVERSE_MIN_LEN,
  spreadEvenly,
  stratifiedHeldoutCounts,
  taskExamples,
  taskStratum,
  type TaskOptions,
} from './tasks.ts';
import { tokenizeExamples } from './data.ts';
import { fakeTokenizer } from './fake-tokenizer.test-util.ts';
import { DEFAULT_CONFIG_TOML, loadTrainConfig } from './config.ts';

const FC = { seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined, numRuns: 10 };
const base = (o: Partial<TaskOptions>): TaskOptions => ({
  task: 'addition',
  split: 'train',
  splitSeed: 1234,
  nHeldout: 500,
  nExamples: 0,
  ...o,
});

test('addition: 9500 training + 500 held-out prompts, disjoint, covering all 10,000', () => {
  const train = taskExamples(base({}));
  const held = taskExamples(base({ split: 'heldout' }));
  assert.is(train.length, 9500);
  assert.is(held.length, 500);
  const heldSet = new Set(held.map((e) => e.prompt));
  assert.is(heldSet.size, 500);
  assert.ok(
    train.every((e) => !heldSet.has(e.prompt)),
    'a held-out prompt is in the training split',
  );
  assert.is(new Set([...train, ...held].map((e) => e.prompt)).size, 10_000);
  assert.ok([...train, ...held].every((e) => checkTaskAnswer('addition', e.prompt, e.response)));
  assert.equal(taskExamples(base({ nExamples: 3 })), train.slice(0, 3));
});

const STRATUM_SIZE: Record<string, number> = { '1+1': 100, '1+2': 900, '2+1': 900, '2+2': 8100 };
function countStrata(prompts: string[]): number[] {
  const n = ADDITION_STRATA.map(() => 0);
  for (const p of prompts) n[ADDITION_STRATA.indexOf(taskStratum('addition', p) as (typeof ADDITION_STRATA)[number])]++;
  return n;
}

test('addition held-out is stratified by operand digits: 20 + 160 + 160 + 160 of 500', () => {
  const held = taskExamples(base({ split: 'heldout' })).map((e) => e.prompt);
  assert.equal(countStrata(held), [20, 160, 160, 160]);
  const train = taskExamples(base({})).map((e) => e.prompt);
  assert.equal(countStrata(train), [80, 740, 740, 7940]);
  // any prefix mixes strata (--eval-limit takes one): the first 50 are not all from one stratum
  assert.ok(countStrata(held.slice(0, 50)).filter((n) => n > 0).length >= 3);
});

test('balance_strata repeats the rarer addition strata to about the largest, and nothing held out', () => {
  const train = taskExamples(base({})).map((e) => e.prompt);
  const balanced = taskExamples(base({ balanceStrata: true })).map((e) => e.prompt);
  // 80 x 99, 740 x 11, 740 x 11, 7940 x 1
  assert.equal(countStrata(balanced), [7920, 8140, 8140, 7940]);
  assert.equal(new Set(balanced).size, train.length, 'every training prompt and nothing else');
  assert.ok(balanced.every((p) => train.includes(p)));
  // a prompt's copies all come from the same training prompt set; held-out prompts never appear
  const held = new Set(taskExamples(base({ split: 'heldout' })).map((e) => e.prompt));
  assert.ok(balanced.every((p) => !held.has(p)));
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 0, max: 3000 }), (nHeldout, nExamples) => {
      const n = countStrata(taskExamples(base({ nHeldout, nExamples, balanceStrata: true })).map((e) => e.prompt));
      const present = n.filter((k) => k > 0);
      // round(largest / count) copies leave each stratum in [2/3, 4/3] of the largest: within a factor 2
      assert.ok(Math.min(...present) * 2 >= Math.max(...present), `strata ${n} are not balanced`);
    }),
    FC,
  );
  assert.equal(taskExamples(base({ split: 'heldout', balanceStrata: true })).length, 500, 'held-out unchanged');
});

test('held-out counts per stratum: as even as the strata allow, at most a fifth each while possible', () => {
  const sizes = ADDITION_STRATA.map((s) => STRATUM_SIZE[s]);
  const caps = sizes.map((s) => s / 5);
  for (let n = 1; n < 10_000; n++) {
    const want = additionHeldoutCounts(n);
    assert.is(
      want.reduce((a, b) => a + b, 0),
      n,
    );
    assert.ok(
      want.every((k, i) => k <= sizes[i]),
      `n=${n}: ${want}`,
    );
    if (n > 2000) {
      assert.equal(
        want.map((k, i) => Math.min(k, caps[i])),
        caps,
        `n=${n}: ${want} goes past a fifth before every stratum gave one`,
      );
      continue;
    }
    assert.ok(
      want.every((k, i) => k <= caps[i]),
      `n=${n}: ${want} exceeds a fifth of a stratum`,
    );
    // strata below their cap differ by at most one, and no stratum holds out more than one above them
    const open = want.filter((k, i) => k < caps[i]);
    if (open.length)
      assert.ok(
        want.every((k) => k - Math.min(...open) <= 1),
        `n=${n}: ${want} is uneven`,
      );
  }
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 600 }), fc.nat(), (n, seed) => {
      const held = taskExamples(base({ split: 'heldout', nHeldout: n, splitSeed: seed })).map((e) => e.prompt);
      assert.equal(countStrata(held), additionHeldoutCounts(n));
    }),
    FC,
  );
  assert.equal(spreadEvenly(10, [1, 100, 100]), [1, 5, 4]);
  assert.equal(spreadEvenly(7, [0, 2, 9]), [0, 2, 5]);
});

test('strata and the one-digit probe', () => {
  assert.equal(
    ['3+4=', '3+45=', '30+4=', '30+45=', '0+99='].map((p) => taskStratum('addition', p)),
    ['1+1', '1+2', '2+1', '2+2', '1+2'],
  );
  assert.is(taskStratum('sort', '53917='), '5 digits');
  assert.is(taskStratum('reverse', '053='), '3 digits');
  const one = oneDigitAdditionPrompts();
  assert.is(new Set(one).size, 100);
  assert.ok(one.every((p) => taskStratum('addition', p) === '1+1'));
});

test('held-out split is disjoint from training for any seed and size (every task)', () => {
  fc.assert(
    fc.property(
      fc.nat(),
      fc.integer({ min: 1, max: 3000 }),
      fc.constantFrom('addition' as const, 'sort' as const, 'reverse' as const),
      (seed, nHeldout, task) => {
        const o = base({ task, splitSeed: seed, nHeldout, nExamples: task === 'sort' ? 2000 : 0 });
        const held = new Set(taskExamples({ ...o, split: 'heldout' }).map((e) => e.prompt));
        return held.size === nHeldout && taskExamples(o).every((e) => !held.has(e.prompt));
      },
    ),
    FC,
  );
});

test('splits are deterministic in the seed and change with it', () => {
  assert.equal(taskExamples(base({ split: 'heldout' })), taskExamples(base({ split: 'heldout' })));
  assert.not.equal(taskExamples(base({ split: 'heldout' })), taskExamples(base({ split: 'heldout', splitSeed: 1 })));
  const s = base({ task: 'sort', nExamples: 100 });
  assert.equal(taskExamples(s), taskExamples(s));
});

test('sort: 3-8 single digits, compact format, correct answers', () => {
  const ex = taskExamples(base({ task: 'sort', nExamples: 3000 }));
  assert.is(ex.length, 3000);
  const lengths = new Set<number>();
  for (const e of ex) {
    assert.match(e.prompt, /^\d{3,8}=$/);
    lengths.add(e.prompt.length - 1);
    assert.is(e.response, [...e.prompt.slice(0, -1)].sort().join(''));
    assert.ok(checkTaskAnswer('sort', e.prompt, e.response));
  }
  assert.equal([...lengths].sort(), [3, 4, 5, 6, 7, 8]);
});

const REVERSE_STRATA = ['2 digits', '3 digits', '4 digits'];
const countReverse = (prompts: string[]) =>
  REVERSE_STRATA.map((k) => prompts.filter((p) => taskStratum('reverse', p) === k).length);

test('reverse: 10,600 training + 500 held-out of the 11,100 strings of 2-4 digits, disjoint, exact answers', () => {
  const o = base({ task: 'reverse' });
  const train = taskExamples(o);
  const held = taskExamples({ ...o, split: 'heldout' });
  assert.equal([train.length, held.length], [10_600, 500]);
  const all = [...train, ...held];
  assert.is(new Set(all.map((e) => e.prompt)).size, 11_100, 'every string of 2-4 digits exactly once');
  for (const e of all) {
    assert.match(e.prompt, /^\d{2,4}=$/);
    assert.is(e.response, [...e.prompt.slice(0, -1)].reverse().join(''));
    assert.ok(checkTaskAnswer('reverse', e.prompt, e.response));
  }
  assert.ok(
    all.some((e) => e.prompt === '0012='),
    'leading zeros are prompts too',
  );
  // stratified as addition: a fifth of the two-digit strings, the rest spread evenly
  assert.equal(countReverse(held.map((e) => e.prompt)), [20, 200, 280]);
  assert.equal(countReverse(held.map((e) => e.prompt)), stratifiedHeldoutCounts(500, [100, 1000, 10_000]));
  assert.ok(
    countReverse(held.slice(0, 50).map((e) => e.prompt)).filter((n) => n > 0).length >= 2,
    'prefixes mix strata',
  );
  assert.equal([REVERSE_MIN_LEN, REVERSE_MAX_LEN], [2, 4]);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 3000 }), fc.nat(), (n, seed) => {
      const h = taskExamples({ ...o, split: 'heldout', nHeldout: n, splitSeed: seed }).map((e) => e.prompt);
      assert.equal(countReverse(h), stratifiedHeldoutCounts(n, [100, 1000, 10_000]));
    }),
    FC,
  );
});

test("reverse is written in the default model's characters and fits its rows", () => {
  const cfg = loadTrainConfig(DEFAULT_CONFIG_TOML, '<default>');
  const charset = new Set(cfg.model.charset);
  const ex = taskExamples(base({ task: 'reverse' }));
  const outside = ex.flatMap((e) => [...e.prompt, ...e.response]).filter((c) => !charset.has(c));
  assert.equal([...new Set(outside)], [], 'a frozen embedding has no row for a new character');
  // the default rows: prompt + the longest gen length (16) within seq_length, as for addition
  const longestPrompt = Math.max(...ex.map((e) => e.prompt.length));
  assert.ok(longestPrompt + cfg.dataset.gen_length[1] <= cfg.dataset.seq_length);
  assert.ok(Math.max(...ex.map((e) => e.response.length)) <= 4, 'fits gen length 4 (the headline layout)');
});

test('balance_strata repeats the rarer reverse strata; held-out prompts never appear', () => {
  const train = taskExamples(base({ task: 'reverse' })).map((e) => e.prompt);
  const balanced = taskExamples(base({ task: 'reverse', balanceStrata: true })).map((e) => e.prompt);
  // 80 x round(9720 / 80) = 122, 800 x 12, 9720 x 1
  assert.equal(countReverse(balanced), [9760, 9600, 9720]);
  assert.equal(new Set(balanced), new Set(train));
});

test('checkTaskAnswer is exact', () => {
  assert.ok(checkTaskAnswer('addition', '37+48=', '85'));
  assert.ok(checkTaskAnswer('addition', '37+48=', ' 85 '));
  assert.not.ok(checkTaskAnswer('addition', '37+48=', '84'));
  assert.not.ok(checkTaskAnswer('addition', '37+48=', '085'));
  assert.ok(checkTaskAnswer('sort', '5391=', '1359'));
  assert.not.ok(checkTaskAnswer('sort', '5391=', '135'));
  assert.ok(checkTaskAnswer('reverse', '1234=', '4321'));
  assert.ok(checkTaskAnswer('reverse', '0120=', '0210'));
  assert.not.ok(checkTaskAnswer('reverse', '0120=', '210'));
  assert.not.ok(checkTaskAnswer('reverse', '1234=', '1234'));
  assert.throws(() => checkTaskAnswer('reverse', '12+34=', '43'), /not a reverse prompt/);
  assert.throws(() => checkTaskAnswer('addition', '123+4=', '127'), /not an addition prompt/);
});

test('every task example fits the default rows: addition in 16, sort in 24, no truncation', () => {
  const tok = fakeTokenizer();
  const opts = {
    format: 'auto',
    truncation: 'error',
    supervisePadding: true,
    useChatTemplate: false,
    skipMalformed: false,
  } as const;
  const add = tokenizeExamples(taskExamples(base({})), tok, { ...opts, seqLength: 16 }, 'addition');
  assert.is(add.nRows, 9500);
  const sort = tokenizeExamples(
    taskExamples(base({ task: 'sort', nExamples: 500 })),
    tok,
    { ...opts, seqLength: 24 },
    'sort',
  );
  assert.is(sort.stats.truncated + sort.stats.dropped, 0);
});

test.run();
