// Training data: JSONL in three formats ({"text"} documents, {"prompt","response"} pairs, OpenAI
// {"messages"} through the chat template) or builtin task examples, parsed, checked and tokenised
// once; train/data-rows.ts lays the ids out as LLaDA's unshifted rows (no next-token shift) kept in
// memory as typed arrays. Errors name file:line; skip_malformed turns bad lines into a count.
// Deliberately not here: data order and batches (train/data-order.ts), masking (train/mdlm.ts).
import { readFileSync, statSync } from 'node:fs';
import { UserError } from '../engine/errors.ts';
import type { Example } from './tasks.ts';
import { buildRows, emptyStats, type SftRecord, type TextRecord, type TokenizedDataset } from './data-rows.ts';

export type { DataStats, TokenizedDataset } from './data-rows.ts';

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
    return { kind: 'text', where, ids: checkIds(tok.encode(text), tok, where) };
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
      prompt: checkIds(tok.encode(promptText), tok, where),
      answer: checkIds(tok.encode(response), tok, where),
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
    prompt: checkIds(tok.encode(promptText), tok, where),
    answer: checkIds(tok.encode(last.content), tok, where),
    end: chatEnd,
  };
}

function checkOptions(opts: TokenizeOptions): void {
  if (!Number.isInteger(opts.seqLength) || opts.seqLength < 2) {
    throw new UserError(`seq_length must be an integer >= 2, got ${opts.seqLength}`);
  }
}

/** Tokenises a JSONL file (format given or detected from its first well-formed line). */
export function loadJsonlDataset(path: string, tok: TrainTokenizer, opts: TokenizeOptions): TokenizedDataset {
  checkOptions(opts);
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw new UserError(`dataset path ${path} is a folder; expected a .jsonl file`);
    text = readFileSync(path, 'utf8').replace(/^\uFEFF/, ''); // a UTF-8 byte-order mark is not data
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
  const lines = text.split('\n');
  const parsed: { raw: unknown; where: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (line.trim() === '') continue;
    const where = `${path}:${i + 1}`;
    try {
      parsed.push({ raw: JSON.parse(line), where });
    } catch (e) {
      if (!opts.skipMalformed) {
        throw new UserError(
          `${where}: malformed JSON (${(e as Error).message}); fix the line or set skip_malformed = true`,
        );
      }
      stats.malformedSkipped++;
    }
  }
  if (format === undefined) {
    for (const p of parsed) {
      format = detectFormat(p.raw);
      if (format) break;
      if (!opts.skipMalformed) {
        throw new UserError(
          `${p.where}: cannot detect the data format: expected a "text", "prompt"+"response" or "messages" field; ` +
            `set format explicitly`,
        );
      }
    }
    if (format === undefined) {
      stats.malformedSkipped += parsed.length; // parsable JSON, but no record of any known shape
      throw new UserError(`${path}: dataset is empty (${stats.malformedSkipped} malformed lines skipped)`);
    }
  }
  const fmt = format;
  function* records(): Generator<SftRecord | TextRecord> {
    for (const p of parsed) {
      try {
        yield toRecord(p.raw, fmt, tok, opts, p.where);
      } catch (e) {
        if (!(e instanceof MalformedRecord)) throw e;
        if (!opts.skipMalformed) throw new UserError(`${p.where}: ${e.message} (format ${fmt})`);
        stats.malformedSkipped++;
      }
    }
  }
  return buildRows(records(), tok.eosId, opts, path, fmt, stats);
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
