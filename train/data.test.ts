// Tests for JSONL loading, tokenisation into unshifted rows, and data order: each format, each
// error with its file:line, truncation/drop counts, EOS padding and masks, and a data order that is
// a permutation per epoch and resumes exactly from a saved position.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../engine/errors.ts';
import { loadJsonlDataset, tokenizeExamples, type TokenizeOptions } from './data.ts';
import { DataOrder, epochPermutation, makeBatch, sequentialBatches, type DataPosition } from './data-order.ts';
import { allRows, decode, fakeTokenizer } from './fake-tokenizer.test-util.ts';

const FC = { seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined, numRuns: 100 };
const dir = mkdtempSync(join(tmpdir(), 'dllm-data-'));
let fileNo = 0;
function jsonl(lines: (string | object)[]): string {
  const p = join(dir, `d${fileNo++}.jsonl`);
  writeFileSync(p, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return p;
}
const opts = (o: Partial<TokenizeOptions> = {}): TokenizeOptions => ({
  seqLength: 8,
  format: 'auto',
  truncation: 'truncate',
  supervisePadding: true,
  useChatTemplate: false,
  skipMalformed: false,
  ...o,
});
const row = (a: ArrayLike<number>, r: number, T: number) => Array.from(a).slice(r * T, (r + 1) * T);
function throwsUser(fn: () => unknown, re: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, UserError);
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`expected a UserError matching ${re}`);
}

test('prompt_response: prompt, answer, EOS, EOS padding; masks and answer length', () => {
  const tok = fakeTokenizer();
  const ds = loadJsonlDataset(jsonl([{ prompt: '1+2=', response: '3' }]), tok, opts());
  assert.is(ds.format, 'prompt_response');
  assert.is(decode(row(allRows(ds).inputIds, 0, 8)), '1+2=3$$$');
  assert.equal(row(allRows(ds).promptMask, 0, 8), [1, 1, 1, 1, 0, 0, 0, 0]);
  assert.equal(row(allRows(ds).lossMask, 0, 8), [0, 0, 0, 0, 1, 1, 1, 1]);
  assert.is(ds.answerLength[0], 4);
  const noPad = loadJsonlDataset(jsonl([{ prompt: '1+2=', response: '3' }]), tok, opts({ supervisePadding: false }));
  assert.equal(row(allRows(noPad).lossMask, 0, 8), [0, 0, 0, 0, 1, 1, 0, 0]);
  assert.is(noPad.answerLength[0], 2);
});

test('prompt_response with the chat template ends the answer with EOT', () => {
  const ds = loadJsonlDataset(
    jsonl([{ prompt: 'hi', response: 'yo' }]),
    fakeTokenizer(),
    opts({ seqLength: 12, useChatTemplate: true }),
  );
  assert.is(decode(row(allRows(ds).inputIds, 0, 12)), 'U:hi\nA:yo#$$');
  assert.equal(row(allRows(ds).promptMask, 0, 12), [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
});

test('messages: earlier turns are prompt, only the last assistant answer is supervised', () => {
  const msgs = [
    { role: 'user', content: 'a' },
    { role: 'assistant', content: 'b' },
    { role: 'user', content: 'c' },
    { role: 'assistant', content: 'dd' },
  ];
  const ds = loadJsonlDataset(jsonl([{ messages: msgs }]), fakeTokenizer(), opts({ seqLength: 16 }));
  assert.is(ds.format, 'messages');
  assert.is(decode(row(allRows(ds).inputIds, 0, 16)), 'U:a\nb\nU:c\nA:dd#$');
  assert.is(ds.answerLength[0], 4); // "dd", EOT, one padding EOS
  throwsUser(
    () => loadJsonlDataset(jsonl([{ messages: msgs }]), fakeTokenizer({ chat: false }), opts({ seqLength: 16 })),
    /chat template/,
  );
  const bad = jsonl([{ messages: msgs }, { messages: [{ role: 'user', content: 'x' }] }]);
  throwsUser(
    () => loadJsonlDataset(bad, fakeTokenizer(), opts({ seqLength: 16 })),
    new RegExp(`${bad}:2: .*assistant`),
  );
});

test('text: documents packed with EOS between them, every position supervised', () => {
  const ds = loadJsonlDataset(jsonl([{ text: 'ab' }, { text: 'cde' }]), fakeTokenizer(), opts({ seqLength: 4 }));
  assert.is(ds.format, 'text');
  assert.is(ds.nRows, 2);
  assert.is(decode(allRows(ds).inputIds), 'ab$cde$$');
  assert.equal(Array.from(allRows(ds).promptMask), [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(Array.from(allRows(ds).lossMask), [1, 1, 1, 1, 1, 1, 1, 1]);
  const noPad = loadJsonlDataset(
    jsonl([{ text: 'ab' }, { text: 'cde' }]),
    fakeTokenizer(),
    opts({ seqLength: 4, supervisePadding: false }),
  );
  assert.equal(Array.from(allRows(noPad).lossMask), [1, 1, 1, 1, 1, 1, 1, 0]);
  assert.equal(Array.from(noPad.answerLength), [4, 3]);
});

test('format auto-detection per file, explicit format wins', () => {
  const tok = fakeTokenizer();
  assert.is(loadJsonlDataset(jsonl(['', { text: 'a' }]), tok, opts()).format, 'text');
  assert.is(loadJsonlDataset(jsonl([{ prompt: 'a', response: 'b' }]), tok, opts()).format, 'prompt_response');
  const p = jsonl([{ foo: 1 }]);
  throwsUser(() => loadJsonlDataset(p, tok, opts()), new RegExp(`${p}:1: cannot detect`));
  const p2 = jsonl([{ text: 'a' }]);
  throwsUser(
    () => loadJsonlDataset(p2, tok, opts({ format: 'prompt_response' })),
    new RegExp(`${p2}:1: .*"prompt" is missing`),
  );
});

test('missing file, malformed line (file:line), skip_malformed counts, empty dataset', () => {
  const tok = fakeTokenizer();
  throwsUser(() => loadJsonlDataset(join(dir, 'nope.jsonl'), tok, opts()), /dataset file not found: .*nope\.jsonl/);
  throwsUser(() => loadJsonlDataset(dir, tok, opts()), /is a folder/);
  const p = jsonl([
    { prompt: 'a', response: 'b' },
    { prompt: 'c', response: 'd' },
    '{"prompt": "x",',
    { prompt: 'e', response: 5 },
  ]);
  throwsUser(() => loadJsonlDataset(p, tok, opts()), new RegExp(`^${p}:3: malformed JSON`));
  const ds = loadJsonlDataset(p, tok, opts({ skipMalformed: true }));
  assert.is(ds.nRows, 2);
  assert.is(ds.stats.malformedSkipped, 2);
  throwsUser(() => loadJsonlDataset(jsonl(['']), tok, opts()), /dataset is empty/);
  throwsUser(() => loadJsonlDataset(jsonl(['{bad', '[1]']), tok, opts({ skipMalformed: true })), /empty .*2 malformed/);
});

test('over-long examples: truncated, dropped or an error, with counts', () => {
  const tok = fakeTokenizer();
  const p = jsonl([
    { prompt: '12=', response: 'abcdefgh' }, // 3 + 8 + 1 > 8: answer cut
    { prompt: '123456789=', response: 'a' }, // prompt alone fills the row
    { prompt: '1=', response: 'ab' }, // fits
  ]);
  const t = loadJsonlDataset(p, tok, opts());
  assert.equal([t.stats.truncated, t.stats.dropped, t.nRows], [1, 1, 2]);
  assert.is(decode(row(allRows(t).inputIds, 0, 8)), '12=abcde'); // no end token after a cut answer
  const d = loadJsonlDataset(p, tok, opts({ truncation: 'drop' }));
  assert.equal([d.stats.truncated, d.stats.dropped, d.nRows], [0, 2, 1]);
  throwsUser(
    () => loadJsonlDataset(p, tok, opts({ truncation: 'error' })),
    new RegExp(`${p}:1: example is 12 tokens.*seq_length 8`),
  );
  throwsUser(
    () => loadJsonlDataset(jsonl([{ prompt: '123456789=', response: 'a' }]), tok, opts()),
    /empty .*1 dropped/,
  );
});

test('token ids outside the vocabulary, or the mask id, are errors naming the line', () => {
  const p = jsonl([
    { prompt: 'a', response: 'b' },
    { prompt: 'A?', response: 'b' },
  ]);
  throwsUser(
    () => loadJsonlDataset(p, fakeTokenizer(), opts()),
    new RegExp(`${p}:2: token id \\d+ is outside the vocabulary`),
  );
  const tok = fakeTokenizer();
  const masky = { ...tok, encode: (s: string) => (s === 'm' ? [tok.maskId] : tok.encode(s)) };
  throwsUser(() => tokenizeExamples([{ prompt: 'm', response: 'b' }], masky, opts(), 'task'), /task#0: .*mask token/);
});

test('tokenisation happens once: epochs of batches never call encode again', () => {
  const tok = fakeTokenizer();
  const ds = tokenizeExamples(
    [
      { prompt: '1+1=', response: '2' },
      { prompt: '2+2=', response: '4' },
      { prompt: '3+3=', response: '6' },
    ],
    tok,
    opts(),
    'x',
  );
  const calls = tok.calls;
  const order = new DataOrder(ds.nRows, 1);
  for (let i = 0; i < 10; i++) makeBatch(ds, order.take(2));
  assert.is(tok.calls, calls);
  assert.ok(order.epochsDone > 6);
});

test('makeBatch gathers rows; sequential batches cover every row once', () => {
  const ds = tokenizeExamples(
    ['1', '2', '3', '4', '5'].map((d) => ({ prompt: `${d}=`, response: d })),
    fakeTokenizer(),
    opts({ seqLength: 4 }),
    'x',
  );
  const b = makeBatch(ds, [3, 0]);
  assert.is(decode(b.inputIds), '4=4$1=1$');
  assert.equal(Array.from(b.answerLength), [2, 2]);
  const seen = [...sequentialBatches(ds, 2)].map((x) => x.B);
  assert.equal(seen, [2, 2, 1]);
});

test('epoch permutations are permutations, fixed by (seed, epoch)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(), fc.integer({ min: 0, max: 50 }), (n, seed, epoch) => {
      const p = epochPermutation(n, seed, epoch);
      const sorted = Array.from(p).sort((a, b) => a - b);
      return (
        sorted.every((v, i) => v === i) && Array.from(epochPermutation(n, seed, epoch)).join() === Array.from(p).join()
      );
    }),
    FC,
  );
  assert.not.equal(Array.from(epochPermutation(50, 1, 0)), Array.from(epochPermutation(50, 1, 1)));
  assert.not.equal(Array.from(epochPermutation(50, 1, 0)), Array.from(epochPermutation(50, 2, 0)));
});

test('a run resumed from a saved position sees exactly the uninterrupted order', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 16 }),
      fc.integer({ min: 0, max: 12 }),
      fc.integer({ min: 1, max: 12 }),
      (n, B, before, after) => {
        const straight = new DataOrder(n, 7);
        const all = Array.from({ length: before + after }, () => straight.take(B));
        const first = new DataOrder(n, 7);
        for (let i = 0; i < before; i++) first.take(B);
        const saved = JSON.parse(JSON.stringify(first.position)) as DataPosition;
        const resumed = new DataOrder(n, 7, saved);
        const rest = Array.from({ length: after }, () => resumed.take(B));
        return JSON.stringify(rest) === JSON.stringify(all.slice(before));
      },
    ),
    FC,
  );
  throwsUser(() => new DataOrder(5, 1, { epoch: 0, index: 6 }), /past the end/);
});

test.run();
