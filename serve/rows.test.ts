// An answer's text as blocks commit: nothing until a block has no mask left, then the block's text;
// the end token ends it (finish_reason stop), the last block without one is "length"; a stop string
// cuts the text and the ids with it, and a tail that could begin one is held back until the next block decides it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildCharTokenizer } from '../model/tokenizer.ts';
import { RowText } from './rows.ts';

const tok = buildCharTokenizer('abcdxyz');
const M = tok.maskId;
const ids = (s: string) =>
  Int32Array.from([...s].map((ch) => (ch === '_' ? M : ch === '$' ? tok.eosId : tok.encode(ch)[0])));
const row = (block: number, stop: string[] = []) => new RowText(tok, [tok.eosId], M, block, stop);

test('text grows by committed blocks; the last block ends it with "length"', () => {
  const r = row(2);
  assert.is(r.update(ids('a___')), null);
  assert.is(r.update(ids('ab__')), 'ab');
  assert.is(r.finish, null);
  assert.is(r.update(ids('abc_')), null);
  assert.is(r.update(ids('abcd')), 'cd');
  assert.is(r.finish, 'length');
  assert.equal(r.ids, [...ids('abcd')]);
  assert.is(r.update(ids('abcd')), null, 'nothing after the end');
});

test('an end token ends the answer with "stop", its ids cut before it', () => {
  const r = row(2);
  assert.is(r.update(ids('a$__')), 'a');
  assert.is(r.finish, 'stop');
  assert.equal(r.ids, [...ids('a')]);
});

test('a stop string cuts the text; a possible start of one is held back, then given when it is not one', () => {
  const r = row(1, ['xy']);
  assert.is(r.update(ids('a___')), 'a');
  assert.is(r.update(ids('ax__')), '', 'x could start "xy"');
  assert.is(r.update(ids('axz_')), 'xz');
  const s = row(1, ['xy']);
  s.update(ids('ax__'));
  assert.is(s.update(ids('axy_')), '');
  assert.is(s.text, 'a');
  assert.is(s.finish, 'stop');
  assert.equal(s.ids, [...ids('a')], 'the ids (usage) end where the text does, not after the stop string');
  const t = row(4, ['y']);
  t.update(ids('axyz'));
  assert.is(t.text, 'ax');
  assert.equal(t.ids, [...ids('ax')]);
});

test('the canvas: masked positions null, others their token', () => {
  assert.equal(row(2).canvas(ids('a_$')), ['a', null, tok.decode([tok.eosId])]);
});

test.run();
