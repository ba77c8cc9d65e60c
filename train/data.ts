// Training data: JSONL in three formats ({"text"} documents, {"prompt","response"} pairs, OpenAI
// {"messages"} through the chat template) or builtin task examples, parsed, checked and tokenised
// once; train/data-rows.ts lays the ids out as LLaDA's unshifted rows (no next-token shift) kept in
// a token store (train/token-store.ts). Files are read line by line (train/jsonl-lines.ts), never
// as one string. Errors name file:line; skip_malformed turns bad lines into a count.
// Deliberately not here: data order and batches (train/data-order.ts), masking (train/mdlm.ts).
import { statSync } from 'node:fs';
import { jsonlLines } from './jsonl-lines.ts';
import { UserError } from '../engine/errors.ts';
import type { Example } from './tasks.ts';
import { buildRows, emptyStats, type SftRecord, type TextRecord, type TokenizedDataset } from './data-rows.ts';

export type { DataStats, TokenizedDataset } from './data-rows.ts';
export { readRow } from './data-rows.ts';

export interface ChatMessage {
  role: string;
  content: string;
}

/** What training needs from a tokenizer (model/ provides the real one). */
export interface TrainTokenizer {
  encode(text: string): number[];
  applyChat?(messages: readonly ChatMessage[], opts: { addGenerationPrompt: boolean }): string;
  readonly eosId: number;
  readonly eotId?: number | null; // end of turn (chat); absent or null: EOS ends answers
  readonly padId: number;
  readonly maskId: number;
  readonly vocabSize: number;
}

export type DataFormat = 'text' | 'prompt_response' | 'messages';
export type Truncation = 'truncate' | 'drop' | 'error';

export interface TokenizeOptions {
  seqLength: number; // T
  format: DataFormat | 'auto';
  truncation: Truncation;
  supervisePadding: boolean;
  useChatTemplate: boolean; // prompt_response only; messages always use the template
  skipMalformed: boolean;
}

class MalformedRecord extends Error {}

function detectFormat(rec: unknown): DataFormat | undefined {
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) return undefined;
  if ('messages' in rec) return 'messages';
  if ('prompt' in rec && 'response' in rec) return 'prompt_response';
  if ('text' in rec) return 'text';
  return undefined;
}

function checkIds(ids: number[], tok: TrainTokenizer, where: string): number[] {
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= tok.vocabSize) {
      throw new UserError(`${where}: token id ${id} is outside the vocabulary (size ${tok.vocabSize})`);
    }
    if (id === tok.maskId) {
      throw new UserError(`${where}: the text encodes to the mask token (id ${id}); remove it from the data`);
    }
  }
  return ids;
}

/** Ids of `text`, checked; a tokenizer's refusal (a character outside its vocabulary) names file:line. */
function encodeAt(tok: TrainTokenizer, text: string, where: string): number[] {
  let ids: number[];
  try {
    ids = tok.encode(text);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${where}: ${e.message}`);
    throw e;
  }
  return checkIds(ids, tok, where);
}

function chat(tok: TrainTokenizer, messages: readonly ChatMessage[], what: string): string {
  if (!tok.applyChat) {
    throw new UserError(`${what} needs a tokenizer with a chat template, and this tokenizer has none`);
  }
  return tok.applyChat(messages, { addGenerationPrompt: true });
}

function field(rec: Record<string, unknown>, key: string, want: string): string {
  const v = rec[key];
  if (typeof v !== 'string')
    throw new MalformedRecord(`${want}: field "${key}" is ${v === undefined ? 'missing' : typeof v}`);
  return v;
}

/** Turns one parsed record into token ids. Throws MalformedRecord for a wrong shape. */
function toRecord(
  raw: unknown,
  format: DataFormat,
  tok: TrainTokenizer,
  opts: TokenizeOptions,
  where: string,
): SftRecord | TextRecord {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new MalformedRecord(`expected a JSON object, got ${Array.isArray(raw) ? 'an array' : JSON.stringify(raw)}`);
  }
  const rec = raw as Record<string, unknown>;
  if (format === 'text') {
    const text = field(rec, 'text', 'expected {"text": string}');
    return { kind: 'text', where, ids: encodeAt(tok, text, where) };
  }
  const chatEnd = tok.eotId ?? tok.eosId;
  if (format === 'prompt_response') {
    const want = 'expected {"prompt": string, "response": string}';
    const prompt = field(rec, 'prompt', want);
    const response = field(rec, 'response', want);
    const promptText = opts.useChatTemplate
      ? chat(tok, [{ role: 'user', content: prompt }], 'dataset.use_chat_template')
      : prompt;
    return {
      kind: 'sft',
      where,
      prompt: encodeAt(tok, promptText, where),
      answer: encodeAt(tok, response, where),
      end: opts.useChatTemplate ? chatEnd : tok.eosId,
    };
  }
  const msgs = rec['messages'];
  const want = 'expected {"messages": [{"role": string, "content": string}, ...]}';
  if (!Array.isArray(msgs) || msgs.length === 0) throw new MalformedRecord(`${want}, ending with an assistant turn`);
  for (const m of msgs as unknown[]) {
    const turn = m as { role?: unknown; content?: unknown } | null;
    if (
      turn === null ||
      typeof turn !== 'object' ||
      typeof turn.role !== 'string' ||
      typeof turn.content !== 'string'
    ) {
      throw new MalformedRecord(`${want}; got ${JSON.stringify(m)}`);
    }
  }
  const last = msgs[msgs.length - 1] as ChatMessage;
  if (last.role !== 'assistant') {
    throw new MalformedRecord(`the last message must be the assistant's answer, got role "${last.role}"`);
  }
  // Earlier turns, assistant ones included, are context: only the final answer is supervised.
  const promptText = chat(tok, msgs.slice(0, -1) as ChatMessage[], 'dataset format "messages"');
  return {
    kind: 'sft',
    where,
    prompt: encodeAt(tok, promptText, where),
    answer: encodeAt(tok, last.content, where),
    end: chatEnd,
  };
}

function checkOptions(opts: TokenizeOptions): void {
  if (!Number.isInteger(opts.seqLength) || opts.seqLength < 2) {
    throw new UserError(`seq_length must be an integer >= 2, got ${opts.seqLength}`);
  }
}

/**
 * Tokenises a JSONL file (format given or detected from its first well-formed line), line by line:
 * no whole-file string, and rows go to a token store (train/token-store.ts).
 */
export function loadJsonlDataset(path: string, tok: TrainTokenizer, opts: TokenizeOptions): TokenizedDataset {
  checkOptions(opts);
  try {
    if (statSync(path).isDirectory()) throw new UserError(`dataset path ${path} is a folder; expected a .jsonl file`);
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT'
        ? `dataset file not found: ${path}`
        : `cannot read dataset file ${path}: ${(e as Error).message}`,
    );
  }
  const stats = emptyStats();
  let format: DataFormat | undefined = opts.format === 'auto' ? undefined : opts.format;
  function* records(): Generator<SftRecord | TextRecord> {
    for (const { text, line } of jsonlLines(path)) {
      if (text.trim() === '') continue;
      const where = `${path}:${line}`;
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch (e) {
        if (!opts.skipMalformed) {
          throw new UserError(
            `${where}: malformed JSON (${(e as Error).message}); fix the line or set skip_malformed = true`,
          );
        }
        stats.malformedSkipped++;
        continue;
      }
      if (format === undefined) {
        format = detectFormat(raw);
        if (format === undefined) {
          if (!opts.skipMalformed) {
            throw new UserError(
              `${where}: cannot detect the data format: expected a "text", "prompt"+"response" or "messages" field; ` +
                `set format explicitly`,
            );
          }
          stats.malformedSkipped++;
          continue;
        }
      }
      try {
        yield toRecord(raw, format, tok, opts, where);
      } catch (e) {
        if (!(e instanceof MalformedRecord)) throw e;
        if (!opts.skipMalformed) throw new UserError(`${where}: ${e.message} (format ${format})`);
        stats.malformedSkipped++;
      }
    }
  }
  let ds: TokenizedDataset;
  try {
    // The format is known once the first record is built; buildRows reads it when it returns.
    ds = buildRows(records(), tok.eosId, opts, path, 'text', stats);
  } catch (e) {
    if (format === undefined && e instanceof UserError && /dataset is empty after tokenisation/.test(e.message)) {
      throw new UserError(`${path}: dataset is empty (${stats.malformedSkipped} malformed lines skipped)`);
    }
    throw e;
  }
  return { ...ds, format: format! };
}

/** Tokenises in-memory prompt/response pairs (builtin tasks); `source` names them in messages. */
export function tokenizeExamples(
  examples: readonly Example[],
  tok: TrainTokenizer,
  opts: TokenizeOptions,
  source: string,
): TokenizedDataset {
  checkOptions(opts);
  const stats = emptyStats();
  function* records(): Generator<SftRecord | TextRecord> {
    for (let i = 0; i < examples.length; i++) {
      yield toRecord(examples[i], 'prompt_response', tok, opts, `${source}#${i}`);
    }
  }
  return buildRows(records(), tok.eosId, opts, source, 'prompt_response', stats);
}

/** One line for the log: "addition/train: 9500 records -> 9500 rows (0 truncated, 0 dropped, ...)". */
export function describeDataset(ds: TokenizedDataset): string {
  const s = ds.stats;
  return (
    `${ds.source}: ${s.records} ${ds.format} records -> ${ds.nRows} rows of ${ds.T} tokens ` +
    `(${s.truncated} truncated, ${s.dropped} dropped, ${s.malformedSkipped} malformed skipped)`
  );
}
