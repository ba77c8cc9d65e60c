// A character-level tokenizer for small models trained from scratch, written as standard Hugging
// Face files: tokenizer.json (a BPE model with no merges, so every character is one token, behind
// a Split pre-tokenizer that isolates each character) and tokenizer_config.json (LLaDA's special
// tokens and a chat_template rendering LLaDA's chat format).
// Deliberately not here: the Tokenizer object (tokenizer.ts's buildCharTokenizer), learning merges,
// byte fallback (unknown characters are refused at encode time, not mapped to an unknown token).
// File formats: huggingface/tokenizers' tokenizer.json serialisation (BPE model, Split
// pre-tokenizer, Fuse decoder); special ids 0..5 fixed so createConfig's defaults match.

import { UserError } from '../engine/errors.ts';
import { LLADA_CHAT_TEMPLATE, SPECIAL } from './chat-format.ts';

export interface CharTokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

/** Ids the char tokenizer gives LLaDA's special tokens, in this order from 0. */
export const CHAR_SPECIALS = [
  SPECIAL.eos,
  SPECIAL.bos,
  SPECIAL.mask,
  SPECIAL.startHeader,
  SPECIAL.endHeader,
  SPECIAL.eot,
] as const;

/** tokenizer.json and tokenizer_config.json contents for a char tokenizer over `chars`. */
export function charTokenizerFiles(
  chars: string,
  opts: { extraSpecials?: readonly string[] } = {},
): CharTokenizerFiles {
  const specials = [...CHAR_SPECIALS, ...(opts.extraSpecials ?? [])];
  if (new Set(specials).size !== specials.length) {
    throw new UserError(`char tokenizer: extraSpecials ${JSON.stringify(opts.extraSpecials)} repeat a special token`);
  }
  if (specials.some((s) => s.length === 0)) throw new UserError('char tokenizer: a special token is empty');
  const charList = [...new Set(Array.from(chars))];
  if (charList.length === 0) throw new UserError('char tokenizer: no characters given');
  const clash = charList.find((c) => specials.includes(c));
  if (clash !== undefined)
    throw new UserError(`char tokenizer: character ${JSON.stringify(clash)} is also a special token`);

  // fromEntries defines own properties, so no token name can reach Object.prototype.
  const vocab = Object.fromEntries([...specials, ...charList].map((t, i) => [t, i]));
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    // "[\s\S]" matches any one character, newlines included, in Oniguruma (Rust) and in JS.
    pre_tokenizer: { type: 'Split', pattern: { Regex: '[\\s\\S]' }, behavior: 'Isolated', invert: false },
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: SPECIAL.bos,
    eos_token: SPECIAL.eos,
    pad_token: SPECIAL.eos,
    mask_token: SPECIAL.mask,
    additional_special_tokens: specials.slice(3),
    clean_up_tokenization_spaces: false,
    chat_template: LLADA_CHAT_TEMPLATE,
  };
  return { tokenizerJson, tokenizerConfig };
}
