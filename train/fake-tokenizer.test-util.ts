// A tiny character tokenizer for the data tests: ids 0..n-1 are the charset, then EOS, mask, EOT.
// Unknown characters encode to an id past the vocabulary so the out-of-vocabulary path can be tested.
// Its chat template is "U:<content>\nA:" per user turn (assistant turns: "<content>\n"), plain ASCII
// so it tokenises with the same charset. Not the project's tokenizer (model/ writes that one).
import type { ChatMessage, TrainTokenizer } from './data.ts';
import type { TokenizedDataset } from './data-rows.ts';
import { makeBatch, type Batch } from './data-order.ts';

export const CHARSET = 'abcdefghijklmnopqrstuvwxyz0123456789+=:,. \nUA';

export function fakeTokenizer(opts: { chat?: boolean; eot?: boolean } = {}): TrainTokenizer & { calls: number } {
  const n = CHARSET.length;
  const tok = {
    calls: 0,
    eosId: n,
    maskId: n + 1,
    eotId: opts.eot === false ? undefined : n + 2,
    padId: n,
    vocabSize: n + 3,
    encode(text: string): number[] {
      tok.calls++;
      return Array.from(text, (ch) => (CHARSET.includes(ch) ? CHARSET.indexOf(ch) : n + 10));
    },
    applyChat:
      opts.chat === false
        ? undefined
        : (messages: readonly ChatMessage[], o: { addGenerationPrompt: boolean }): string =>
            messages.map((m) => (m.role === 'assistant' ? `${m.content}\n` : `U:${m.content}\n`)).join('') +
            (o.addGenerationPrompt ? 'A:' : ''),
  };
  return tok;
}

export function decode(ids: ArrayLike<number>): string {
  return Array.from(
    ids,
    (id) => CHARSET[id] ?? (id === CHARSET.length ? '$' : id === CHARSET.length + 2 ? '#' : '?'),
  ).join('');
}

/** Every row of a dataset, in order, as one batch (tests read a whole dataset's rows this way). */
export function allRows(ds: TokenizedDataset): Batch {
  return makeBatch(
    ds,
    Array.from({ length: ds.nRows }, (_, i) => i),
  );
}
