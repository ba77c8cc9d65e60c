// Prompt preparation without a GPU: which mode the default picks and why (chat only where the
// tokenizer can encode its template), multi-turn conversations from --system / --messages, and each
// malformed --messages file as a one-line error naming the file and the message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildCharTokenizer, tokenizerFromFiles } from '../model/tokenizer.ts';
import { charTokenizerFiles } from '../model/char-tokenizer.ts';
import { buildPrompts, parseIdList, parseMessages, type PromptInput } from './prompt.ts';

const letters = buildCharTokenizer('abcdefghijklmnopqrstuvwxyz0123456789+=? \n');
const digits = buildCharTokenizer('0123456789+=');
const noTemplateFiles = charTokenizerFiles('abcdefghijklmnopqrstuvwxyz ');
delete noTemplateFiles.tokenizerConfig.chat_template;
const noTemplate = tokenizerFromFiles(noTemplateFiles, 'no-template');

const input = (p: Partial<PromptInput>): PromptInput => ({
  texts: [],
  tokenizer: letters,
  maskSpan: 3,
  maskId: letters.maskId,
  checkpoint: 'ck',
  ...p,
});

function throws(fn: () => unknown, re: RegExp) {
  try {
    fn();
  } catch (e) {
    assert.match((e as Error).message, re);
    assert.not.match((e as Error).message, /\n/, 'one line');
    return;
  }
  assert.unreachable(`expected an error matching ${re}`);
}

test('default mode: chat where the template encodes, raw where it cannot or there is none, with the reason', () => {
  const chat = buildPrompts(input({ texts: ['a+b'] }));
  assert.is(chat.mode, 'chat');
  assert.equal(
    chat.ids[0],
    letters.encode(letters.applyChat([{ role: 'user', content: 'a+b' }], { addGenerationPrompt: true })),
  );
  const raw = buildPrompts(input({ texts: ['1+1='], tokenizer: digits }));
  assert.is(raw.mode, 'raw');
  assert.equal(raw.ids[0], digits.encode('1+1='));
  assert.match(raw.reason!, /cannot encode its chat template.*"u", "s", "e", "r"/);
  const none = buildPrompts(input({ texts: ['ab'], tokenizer: noTemplate }));
  assert.is(none.mode, 'raw');
  assert.match(none.reason!, /no chat template/);
  assert.is(buildPrompts(input({ texts: ['ab'], mode: 'raw' })).reason, undefined, 'a given mode needs no reason');
});

test('chat asked for on a tokenizer that cannot encode its template: one clear error', () => {
  throws(
    () => buildPrompts(input({ texts: ['1+1='], tokenizer: digits, mode: 'chat' })),
    /chat mode: the tokenizer cannot encode its chat template.*use --mode raw/,
  );
  throws(
    () => buildPrompts(input({ texts: ['1'], tokenizer: digits, system: 'x' })),
    /cannot encode its chat template/,
  );
});

test('multi-turn: --system, then --messages, then each prompt as the next user turn', () => {
  const messages = parseMessages(
    JSON.stringify([
      { role: 'user', content: 'what is 1+1?' },
      { role: 'assistant', content: '2' },
    ]),
    'conv.json',
  );
  const b = buildPrompts(input({ texts: ['and 2+2?', 'and 3+3?'], system: 'be brief', messages }));
  assert.is(b.mode, 'chat');
  assert.match(b.reason!, /--messages/);
  const want = [{ role: 'system', content: 'be brief' }, ...messages, { role: 'user', content: 'and 2+2?' }];
  assert.equal(b.conversations![0], want);
  assert.equal(b.ids[0], letters.encode(letters.applyChat(want, { addGenerationPrompt: true })));
  assert.is(b.conversations![1].at(-1)!.content, 'and 3+3?');
  // a conversation that already ends with the user's turn needs no --prompt
  const only = buildPrompts(input({ messages: [{ role: 'user', content: 'hi' }] }));
  assert.is(only.ids.length, 1);
  assert.equal(
    only.ids[0],
    letters.encode(letters.applyChat([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true })),
  );
});

test('bad --messages files and combinations: one-line errors', () => {
  const cases: [string, RegExp][] = [
    ['{"role": "user"', /conv\.json: not valid JSON/],
    ['{"role": "user", "content": "x"}', /conv\.json: expected a JSON list of \{"role"/],
    ['[]', /conv\.json: the message list is empty/],
    ['["hi"]', /conv\.json: message 1: expected a JSON list/],
    [
      '[{"role": "user", "content": "x"}, {"role": "bot", "content": "y"}]',
      /message 2: unknown role "bot" \(use one of system, user, assistant\)/,
    ],
    ['[{"content": "x"}]', /message 1: "role" is missing/],
    ['[{"role": "user", "content": 3}]', /message 1: "content" is missing or not a string/],
    [
      '[{"role": "user", "content": "x"}, {"role": "system", "content": "y"}]',
      /message 2: a system message may only come first/,
    ],
  ];
  for (const [text, re] of cases) throws(() => parseMessages(text, 'conv.json'), re);
  const sys = [{ role: 'system', content: 's' }];
  throws(() => buildPrompts(input({ texts: ['x'], system: 's', messages: sys })), /give the system message once/);
  throws(
    () =>
      buildPrompts(
        input({
          messages: [
            { role: 'user', content: 'x' },
            { role: 'assistant', content: 'y' },
          ],
        }),
      ),
    /must end with a user turn/,
  );
  throws(() => buildPrompts(input({ texts: ['x'], system: 's', mode: 'raw' })), /need chat mode, not raw/);
  throws(() => buildPrompts(input({ promptIds: '1,2', system: 's' })), /either --prompt-ids or text prompts/);
});

test('--prompt-ids: decimal ids only; hex, exponents, signs and empty items are refused', () => {
  assert.equal(parseIdList('1, 2,30'), [1, 2, 30]);
  for (const [bad, re] of [
    ['0x10', /"0x10" is not a token id/],
    ['1e2', /"1e2" is not a token id/],
    ['1,,2', /item 2 is empty/],
    ['1,2,', /item 3 is empty/],
    ['-1', /"-1" is not a token id/],
    ['1.0', /"1.0" is not a token id/],
    ['99999999999999999999', /is not a token id/],
    ['', /is empty/],
  ] as const) {
    throws(() => parseIdList(bad), re);
  }
});

test('infill expands each [MASK] to mask-span mask tokens', () => {
  const b = buildPrompts(input({ texts: ['a[MASK]b[MASK]'], mode: 'infill' }));
  const M = letters.maskId;
  assert.equal(b.ids[0], [...letters.encode('a'), M, M, M, ...letters.encode('b'), M, M, M]);
});

test.run();
