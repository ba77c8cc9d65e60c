// Tokenizer for LLaDA models: loads a Hugging Face tokenizer.json + tokenizer_config.json through
// @huggingface/tokenizers, finds LLaDA's special tokens, and renders chats with the config's
// chat_template (through @huggingface/jinja) or, when there is none, LLaDA's Llama-3-style format.
// Also the entry points for the char tokenizer of from-scratch models (files: char-tokenizer.ts).
// Deliberately not here: reading and writing the files (tokenizer-file.ts; this module runs in a
// browser too), padding/batching, ids -> tensors, the chat format itself (chat-format.ts).
// API of the files: huggingface/tokenizers (tokenizer.json) and transformers (tokenizer_config.json).

import { Template } from '@huggingface/jinja';
import { Tokenizer as HfTokenizerClass } from '@huggingface/tokenizers';
import { UserError } from '../engine/errors.ts';
import { SPECIAL, renderLladaChat, type ChatMessage } from './chat-format.ts';
import { renderChatTemplate } from './chat-template.ts';
import { charTokenizerFiles } from './char-tokenizer.ts';

export { SPECIAL, renderLladaChat, LLADA_CHAT_TEMPLATE, type ChatMessage } from './chat-format.ts';

/** The two JSON files a Hugging Face tokenizer directory holds, parsed. */
export interface TokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

export interface Tokenizer {
  /** Largest token id + 1 (the model's embedding may have more rows). */
  readonly vocabSize: number;
  readonly maskId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly bosId: number | null;
  readonly eotId: number | null;
  /** Special tokens in the text are always recognised; addSpecial adds the post-processor's. */
  encode(text: string, opts?: { addSpecial?: boolean }): number[];
  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  applyChat(messages: readonly ChatMessage[], opts: { addGenerationPrompt: boolean }): string;
  /** What it was built from, to save beside a checkpoint. */
  readonly files: TokenizerFiles;
}

/**
 * The part of @huggingface/tokenizers' Tokenizer this file uses, typed here: the package's .d.ts
 * re-exports through extensionless relative paths, which NodeNext resolution cannot follow, so its
 * own types arrive as `any`. Signatures as in its types/core/Tokenizer.d.ts (v0.2).
 */
interface HfTokenizer {
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[]; tokens: string[] };
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
}
const HfTokenizerCtor = HfTokenizerClass as unknown as new (tokenizerJson: object, config: object) => HfTokenizer;

/** Special tokens in tokenizer_config.json are strings or {"content": ...} objects. */
function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return null;
}

function chatTemplateOf(config: Record<string, unknown>, source: string): string | null {
  const t = config.chat_template;
  if (t === undefined || t === null) return null;
  if (typeof t === 'string') return t;
  // Newer configs may hold a list of named templates; "default" is the one apply_chat_template uses.
  if (Array.isArray(t)) {
    const named = t as { name?: unknown; template?: unknown }[];
    const pick = named.find((x) => x?.name === 'default') ?? named[0];
    if (typeof pick?.template === 'string') return pick.template;
  }
  throw new UserError(`${source}: chat_template must be a string or a list of {name, template}`);
}

/**
 * Token ids in tokenizer.json (the model's vocab and added_tokens) must be non-negative integers
 * and near-dense: the tokenizer library walks the id range, so a single id of 1e9 took minutes.
 * Ids up to twice the number of tokens (plus 1024) are accepted: real vocabularies have small gaps.
 */
function checkTokenIds(json: Record<string, unknown>, source: string): void {
  const ids: [string, unknown][] = [];
  const vocab = (json.model as { vocab?: unknown } | undefined)?.vocab;
  // BPE/WordPiece/WordLevel: {token: id}; Unigram: [[piece, score], ...] whose ids are positions.
  if (vocab && typeof vocab === 'object' && !Array.isArray(vocab)) ids.push(...Object.entries(vocab));
  const added = Array.isArray(json.added_tokens) ? (json.added_tokens as { id?: unknown; content?: unknown }[]) : [];
  for (const t of added) ids.push([String(t?.content), t?.id]);
  const count = (Array.isArray(vocab) ? vocab.length : ids.length - added.length) + added.length;
  const limit = 2 * count + 1024;
  for (const [token, id] of ids) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new UserError(
        `${source}: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}; ids are integers >= 0`,
      );
    }
    if (id >= limit) {
      throw new UserError(
        `${source}: token ${JSON.stringify(token)} has id ${id}, far past the ${count} tokens it holds (ids must be ` +
          `nearly dense: below ${limit}, twice the token count plus 1024); the file is damaged`,
      );
    }
  }
}

/** Build from already-parsed files; `source` names them in errors. */
export function tokenizerFromFiles(files: TokenizerFiles, source: string): Tokenizer {
  checkTokenIds(files.tokenizerJson, source);
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizerCtor(structuredClone(files.tokenizerJson), structuredClone(files.tokenizerConfig));
  } catch (e) {
    throw new UserError(`${source}: cannot build the tokenizer (${(e as Error).message})`);
  }
  const vocab = hf.get_vocab(true);
  let maxId = -1;
  for (const id of vocab.values()) maxId = Math.max(maxId, id);
  const cfg = files.tokenizerConfig;
  const idOf = (...names: (string | null)[]) => {
    for (const n of names) if (n !== null && hf.token_to_id(n) !== undefined) return hf.token_to_id(n)!;
    return null;
  };
  const required = (what: string, id: number | null, name: string) => {
    if (id === null) throw new UserError(`${source}: no ${what} token ${name} in the vocabulary (LLaDA needs it)`);
    return id;
  };
  const maskId = required('mask', idOf(SPECIAL.mask, tokenString(cfg.mask_token)), SPECIAL.mask);
  const eosId = required('end-of-text', idOf(SPECIAL.eos, tokenString(cfg.eos_token)), SPECIAL.eos);
  const padId = idOf(tokenString(cfg.pad_token)) ?? eosId;
  const bosId = idOf(SPECIAL.bos, tokenString(cfg.bos_token));
  const eotId = idOf(SPECIAL.eot);
  const bosToken = bosId === null ? '' : hf.id_to_token(bosId)!;

  const template = chatTemplateOf(cfg, source);
  let compiled: Template | null = null;
  if (template !== null) {
    try {
      compiled = new Template(template);
    } catch (e) {
      throw new UserError(`${source}: chat_template does not parse (${(e as Error).message})`);
    }
  }

  // Char-level vocabularies (BPE without merges or unknown token, as buildCharTokenizer writes)
  // drop characters they do not know; refuse instead, since a silent gap corrupts training data.
  const model = files.tokenizerJson.model as {
    type?: unknown;
    merges?: unknown[];
    unk_token?: unknown;
    byte_fallback?: unknown;
  };
  const charLevel =
    model?.type === 'BPE' &&
    Array.isArray(model.merges) &&
    model.merges.length === 0 &&
    model.unk_token == null &&
    !model.byte_fallback &&
    files.tokenizerJson.normalizer == null &&
    files.tokenizerJson.post_processor == null;

  return {
    vocabSize: maxId + 1,
    maskId,
    eosId,
    padId,
    bosId,
    eotId,
    files,
    encode(text, opts = {}) {
      const enc = hf.encode(text, { add_special_tokens: opts.addSpecial ?? false });
      if (charLevel && enc.tokens.join('') !== text) {
        // added (special) tokens are matched whole: leave them out when naming the unknown characters
        const added = ((files.tokenizerJson.added_tokens ?? []) as { content: string }[]).map((t) => t.content);
        const plain = added.reduce((t, a) => t.split(a).join(''), text);
        const unknown = [...new Set(Array.from(plain).filter((c) => hf.token_to_id(c) === undefined))].slice(0, 5);
        throw new UserError(
          `${source}: text has characters outside the vocabulary: ${unknown.map((c) => JSON.stringify(c)).join(', ')}`,
        );
      }
      return enc.ids;
    },
    decode(ids, opts = {}) {
      if (ids.length === 0) return '';
      for (const id of ids) {
        if (!Number.isInteger(id) || hf.id_to_token(id) === undefined) {
          throw new UserError(`${source}: token id ${id} is not in the vocabulary (0..${maxId})`);
        }
      }
      return hf.decode([...ids], { skip_special_tokens: opts.skipSpecial ?? false });
    },
    tokenToId: (token) => hf.token_to_id(token),
    idToToken: (id) => hf.id_to_token(id),
    applyChat(messages, { addGenerationPrompt }) {
      if (compiled === null) return renderLladaChat(messages, addGenerationPrompt, bosToken);
      return renderChatTemplate(
        compiled,
        {
          messages,
          add_generation_prompt: addGenerationPrompt,
          bos_token: bosToken,
          eos_token: hf.id_to_token(eosId),
          pad_token: hf.id_to_token(padId),
        },
        messages,
        source,
      );
    },
  };
}

/** A JSON file's text (read or fetched; `path` names it in errors) as an object. */
export function parseJsonObject(text: string, path: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, '')); // editors on Windows may add a byte-order mark
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new UserError(`${path}: expected a JSON object`);
  return json as Record<string, unknown>;
}

/** The ids that end an answer: EOS, and the end-of-turn token when the tokenizer has one. */
export function endTokenIds(tok: Tokenizer): number[] {
  return tok.eotId !== null ? [tok.eosId, tok.eotId] : [tok.eosId];
}

/** A character-level tokenizer over `chars` with LLaDA's special tokens (see char-tokenizer.ts). */
export function buildCharTokenizer(chars: string, opts: { extraSpecials?: readonly string[] } = {}): Tokenizer {
  return tokenizerFromFiles(charTokenizerFiles(chars, opts), 'char tokenizer');
}
