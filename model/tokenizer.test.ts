// Tests for tokenizer.ts, char-tokenizer.ts and chat-format.ts: the char tokenizer builds, saves,
// loads back through @huggingface/tokenizers and round-trips text; special ids sit where
// createConfig expects them; chats render exactly LLaDA's format, through the Jinja template and
// through the fallback alike; bad input and broken tokenizer files are UserErrors, a token id of
// 1e9 at once, and a chat template's range() and output are bounded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConfig } from './config.ts';
import { charTokenizerFiles } from './char-tokenizer.ts';
import { buildCharTokenizer, renderLladaChat, tokenizerFromFiles, type ChatMessage } from './tokenizer.ts';
import { loadTokenizer, saveTokenizer } from './tokenizer-file.ts';
import { expectUserError, fcOptions, scratchDir } from './model.test-util.ts';

const ARITH = '0123456789+= abcdefghijklmnopqrstuvwxyz\n';
const tok = buildCharTokenizer(ARITH);
const dir = scratchDir('tokenizer');
saveTokenizer(dir, tok);
const loaded = loadTokenizer(dir);

test('special ids: LLaDA names at the ids createConfig assumes', () => {
  const c = createConfig();
  for (const t of [tok, loaded]) {
    assert.is(t.eosId, 0);
    assert.is(t.eosId, c.eos_token_id);
    assert.is(t.padId, c.pad_token_id);
    assert.is(t.maskId, c.mask_token_id);
    assert.is(t.bosId, 1);
    assert.is(t.eotId, 5);
    assert.is(t.tokenToId('<|start_header_id|>'), 3);
    assert.is(t.idToToken(2), '<|mdm_mask|>');
    assert.is(t.vocabSize, 6 + Array.from(new Set(ARITH)).length);
  }
});

test('saved files load back to the same files', () => {
  assert.equal(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')), tok.files.tokenizerJson);
  assert.equal(loaded.files.tokenizerConfig, tok.files.tokenizerConfig);
});

test('encode gives one id per character, in vocabulary order', () => {
  assert.equal(loaded.encode('12+3=15'), [7, 8, 16, 9, 17, 7, 11]);
  assert.equal(loaded.encode(''), []);
  assert.is(loaded.decode([]), '');
});

test('property: decode(encode(s)) = s over digits, +, =, spaces, letters, newlines', () => {
  const chars = Array.from(ARITH);
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...chars), { maxLength: 60 }), (cs) => {
      const s = cs.join('');
      const ids = loaded.encode(s);
      assert.is(ids.length, cs.length);
      assert.is(loaded.decode(ids), s);
      assert.equal(tok.encode(s), ids);
    }),
    fcOptions(300),
  );
});

test('non-BMP characters are single tokens too', () => {
  const t = buildCharTokenizer('a😀é ');
  assert.equal(t.encode('😀a😀'), [6 + 1, 6, 6 + 1]);
  assert.is(t.decode(t.encode('é 😀')), 'é 😀');
});

test('special tokens in text are single ids; skipSpecial drops them', () => {
  const ids = loaded.encode('<|startoftext|>1+1<|mdm_mask|><|mdm_mask|>');
  assert.equal(ids, [1, 7, 16, 7, 2, 2]);
  assert.is(loaded.decode(ids), '<|startoftext|>1+1<|mdm_mask|><|mdm_mask|>');
  assert.is(loaded.decode(ids, { skipSpecial: true }), '1+1');
});

test('unknown characters and ids are UserErrors, not silent gaps', () => {
  expectUserError(() => loaded.encode('1 * 2'), 'outside the vocabulary', '"*"');
  expectUserError(() => loaded.decode([7, 999]), 'token id 999');
  expectUserError(() => loaded.decode([1.5]), 'token id 1.5');
});

const LLADA_PROMPT =
  '<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n';

test("chat: exactly LLaDA's format, from the template and from the fallback", () => {
  const msgs = [{ role: 'user', content: 'What is 2+2?' }];
  assert.is(loaded.applyChat(msgs, { addGenerationPrompt: true }), LLADA_PROMPT);
  assert.is(renderLladaChat(msgs, true), LLADA_PROMPT);
  const noTemplate = { ...tok.files, tokenizerConfig: { ...tok.files.tokenizerConfig, chat_template: undefined } };
  assert.is(tokenizerFromFiles(noTemplate, 'x').applyChat(msgs, { addGenerationPrompt: true }), LLADA_PROMPT);
  assert.is(
    loaded.applyChat(
      [
        { role: 'user', content: ' 1+1= ' },
        { role: 'assistant', content: '2' },
      ],
      { addGenerationPrompt: false },
    ),
    '<|startoftext|><|start_header_id|>user<|end_header_id|>\n\n1+1=<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n2<|eot_id|>',
  );
});

test('property: the Jinja template renders what renderLladaChat renders', () => {
  const message: fc.Arbitrary<ChatMessage> = fc.record({
    role: fc.constantFrom('system', 'user', 'assistant'),
    content: fc.string({ unit: fc.constantFrom(...Array.from(ARITH), "'", '"', '{', '}', '%', '\\', '\t') }),
  });
  fc.assert(
    fc.property(fc.array(message, { maxLength: 4 }), fc.boolean(), (msgs, gen) => {
      assert.is(loaded.applyChat(msgs, { addGenerationPrompt: gen }), renderLladaChat(msgs, gen));
    }),
    fcOptions(200),
  );
});

test('a chat prompt encodes with the header tokens as single ids', () => {
  const ids = loaded.encode(loaded.applyChat([{ role: 'user', content: '1+1=' }], { addGenerationPrompt: true }));
  assert.is(ids[0], loaded.bosId);
  assert.is(ids[1], 3);
  assert.is(ids.at(-3), 4);
  assert.equal(ids.slice(-2), loaded.encode('\n\n'));
});

test('chat_template given as a list of named templates', () => {
  const files = {
    ...tok.files,
    tokenizerConfig: {
      ...tok.files.tokenizerConfig,
      chat_template: [
        { name: 'tool_use', template: 'no' },
        { name: 'default', template: '{{ bos_token }}!' },
      ],
    },
  };
  assert.is(tokenizerFromFiles(files, 'x').applyChat([], { addGenerationPrompt: false }), '<|startoftext|>!');
});

test('extraSpecials get the ids after the LLaDA specials and stay whole', () => {
  const t = buildCharTokenizer('ab', { extraSpecials: ['<|sep|>'] });
  assert.is(t.tokenToId('<|sep|>'), 6);
  assert.equal(t.encode('a<|sep|>b'), [7, 6, 8]);
  expectUserError(() => buildCharTokenizer('ab', { extraSpecials: ['<|mdm_mask|>'] }), 'repeat');
  expectUserError(() => buildCharTokenizer('ab', { extraSpecials: ['a'] }), '"a"', 'special');
  expectUserError(() => buildCharTokenizer(''), 'no characters');
});

test('broken or foreign tokenizer files are UserErrors naming the file', () => {
  const d = scratchDir('tokbad');
  expectUserError(() => loadTokenizer(d), join(d, 'tokenizer.json'), 'cannot read');
  writeFileSync(join(d, 'tokenizer.json'), '{"model": ');
  expectUserError(() => loadTokenizer(d), join(d, 'tokenizer.json'), 'JSON');
  const noMask = charTokenizerFiles('ab');
  const json = noMask.tokenizerJson as {
    added_tokens: { content: string }[];
    model: { vocab: Record<string, number> };
  };
  json.added_tokens = json.added_tokens.filter((t) => t.content !== '<|mdm_mask|>');
  delete json.model.vocab['<|mdm_mask|>'];
  expectUserError(() => tokenizerFromFiles({ ...noMask, tokenizerConfig: {} }, 'src'), 'src', '<|mdm_mask|>');
  expectUserError(
    () => tokenizerFromFiles({ tokenizerJson: { model: { type: 'Nope' } }, tokenizerConfig: {} }, 'src2'),
    'src2',
    'cannot build',
  );
  const badTemplate = { ...tok.files, tokenizerConfig: { ...tok.files.tokenizerConfig, chat_template: '{% for %}' } };
  expectUserError(() => tokenizerFromFiles(badTemplate, 'src3'), 'src3', 'chat_template');
});

test('a token id far past the vocabulary is refused at once, not walked to', () => {
  const files = charTokenizerFiles('ab');
  (files.tokenizerJson.model as { vocab: Record<string, number> }).vocab['b'] = 1e9;
  const t0 = performance.now();
  expectUserError(() => tokenizerFromFiles(files, 'src'), 'src', 'token "b" has id 1000000000', 'below');
  assert.ok(performance.now() - t0 < 1000, 'refused in well under a second (it took minutes)');
  (files.tokenizerJson.model as { vocab: Record<string, number> }).vocab['b'] = -3;
  expectUserError(() => tokenizerFromFiles(files, 'src'), 'token "b" has id -3');
});

test("a checkpoint's chat template cannot allocate without limit: range() budget, output cap", () => {
  const withTemplate = (t: string) =>
    tokenizerFromFiles({ ...tok.files, tokenizerConfig: { ...tok.files.tokenizerConfig, chat_template: t } }, 'src');
  const msgs: ChatMessage[] = [{ role: 'user', content: 'hello' }];
  const huge = withTemplate('{% for i in range(1000000000) %}{{ i }}{% endfor %}');
  expectUserError(() => huge.applyChat(msgs, { addGenerationPrompt: true }), 'src', 'range() past 100000 items');
  // within the range budget, but 5 chars x 50000 x 2 loops of output from 9 characters of messages
  const wide = withTemplate(
    '{% for i in range(50000) %}{% for m in messages %}{{ m.content }}{% endfor %}{% endfor %}' +
      '{% for i in range(50000) %}{{ messages[0].content }}{% endfor %}',
  );
  expectUserError(() => wide.applyChat(msgs, { addGenerationPrompt: true }), 'src', 'rendered 500000 characters');
  // what a template may do: its own loop over a few items, within the budget and the cap
  const fine = withTemplate('{% for i in range(3) %}{{ i }}{% endfor %}{{ messages[0].content }}');
  assert.is(fine.applyChat(msgs, { addGenerationPrompt: true }), '012hello');
});

test.run();
