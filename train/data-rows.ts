// Lays tokenised records out as fixed-length "unshifted" rows (LLaDA GUIDELINES, SFT section; NeMo
// AutoModel dataset.unshifted): [prompt ids][answer ids][end token][EOS padding], exactly T long,
// with prompt_mask on the prompt, loss_mask on answer + end token (+ padding when supervise_padding)
// and answer_length = supervised tokens of the row. Text documents are packed back to back with EOS
// after each, every position supervised (LLaDA pre-training). Padding uses the EOS id, as LLaDA
// does, not tokenizer.padId. Over-long SFT records are cut, dropped or refused, and counted.
// Rows go to a token store (train/token-store.ts), on disk past a memory budget.
// Deliberately no parsing or tokenising (train/data.ts) and no batching (train/data-order.ts).
import { UserError } from '../engine/errors.ts';
import type { DataFormat, TokenizeOptions } from './data.ts';
import { TokenStore } from './token-store.ts';

export interface DataStats {
  records: number; // well-formed records tokenised
  rows: number;
  malformedSkipped: number;
  truncated: number;
  dropped: number;
}

/** Tokenised rows of T tokens each, in a token store (train/token-store.ts): read them with readRow. */
export interface TokenizedDataset {
  source: string;
  format: DataFormat;
  T: number;
  nRows: number;
  store: TokenStore;
  answerLength: Int32Array; // (R,) supervised tokens per row
  longestPrompt: number; // prompt tokens of the row with the most
  maxId: number; // largest token id in any row (padding included)
  stats: DataStats;
}

/** Row r of a dataset as three arrays of T (ids, prompt mask, loss mask). */
export function readRow(ds: TokenizedDataset, r: number): { ids: Int32Array; prompt: Uint8Array; loss: Uint8Array } {
  const out = { ids: new Int32Array(ds.T), prompt: new Uint8Array(ds.T), loss: new Uint8Array(ds.T) };
  ds.store.readRow(r, out.ids, out.prompt, out.loss, 0);
  return out;
}

export interface SftRecord {
  kind: 'sft';
  where: string;
  prompt: number[];
  answer: number[];
  end: number;
}
export interface TextRecord {
  kind: 'text';
  where: string;
  ids: number[];
}

/** Lays each row out in T-long scratch arrays and appends it to the store. */
class RowBuilder {
  readonly store: TokenStore;
  private readonly ids: Int32Array;
  private readonly prompt: Uint8Array;
  private readonly loss: Uint8Array;
  longestPrompt = 0;
  maxId = 0;
  constructor(
    private readonly T: number,
    private readonly eos: number,
    private readonly supervisePadding: boolean,
  ) {
    this.store = new TokenStore(T);
    this.ids = new Int32Array(T);
    this.prompt = new Uint8Array(T);
    this.loss = new Uint8Array(T);
  }
  get rows(): number {
    return this.store.nRows;
  }
  /** tokens.length <= T; the first promptLen are prompt, the rest supervised, then EOS padding. */
  add(tokens: readonly number[], promptLen: number): void {
    let supervised = 0;
    for (let i = 0; i < this.T; i++) {
      const real = i < tokens.length;
      const isPrompt = i < promptLen;
      const sup = !isPrompt && (real || this.supervisePadding);
      this.ids[i] = real ? tokens[i] : this.eos;
      this.prompt[i] = isPrompt ? 1 : 0;
      this.loss[i] = sup ? 1 : 0;
      if (sup) supervised++;
      if (this.ids[i] > this.maxId) this.maxId = this.ids[i];
    }
    this.longestPrompt = Math.max(this.longestPrompt, Math.min(promptLen, this.T));
    this.store.add(this.ids, this.prompt, this.loss, supervised);
  }
  finish(source: string, format: DataFormat, stats: DataStats): TokenizedDataset {
    return {
      source,
      format,
      T: this.T,
      nRows: this.rows,
      store: this.store,
      answerLength: this.store.answerLength,
      longestPrompt: this.longestPrompt,
      maxId: this.maxId,
      stats: { ...stats, rows: this.rows },
    };
  }
}

export function buildRows(
  records: Iterable<SftRecord | TextRecord>,
  eosId: number,
  opts: TokenizeOptions,
  source: string,
  format: DataFormat,
  stats: DataStats,
): TokenizedDataset {
  const T = opts.seqLength;
  const rows = new RowBuilder(T, eosId, opts.supervisePadding);
  try {
    let stream: number[] = []; // text packing buffer
    for (const r of records) {
      stats.records++;
      if (r.kind === 'text') {
        for (const id of r.ids) stream.push(id);
        stream.push(eosId);
        let start = 0;
        for (; stream.length - start >= T; start += T) rows.add(stream.slice(start, start + T), 0);
        if (start > 0) stream = stream.slice(start);
        continue;
      }
      let tokens = [...r.prompt, ...r.answer, r.end];
      if (tokens.length > T) {
        if (opts.truncation === 'error') {
          throw new UserError(
            `${r.where}: example is ${tokens.length} tokens (prompt ${r.prompt.length}, answer ${r.answer.length} + end), ` +
              `longer than seq_length ${T}; raise seq_length or set truncation = "truncate" or "drop"`,
          );
        }
        if (opts.truncation === 'drop' || r.prompt.length >= T) {
          stats.dropped++; // a prompt filling the row leaves nothing to supervise: dropped even when truncating
          continue;
        }
        // The cut answer gets no end token: supervising one would teach the model to stop early.
        tokens = tokens.slice(0, T);
        stats.truncated++;
      }
      rows.add(tokens, r.prompt.length);
    }
    if (stream.length > 0) rows.add(stream, 0);
  } catch (e) {
    rows.store.close(); // a dataset that fails to build leaves no file behind
    throw e;
  }
  if (rows.rows === 0) {
    rows.store.close();
    throw new UserError(
      `${source}: dataset is empty after tokenisation (${stats.records} records, ${stats.dropped} dropped as longer ` +
        `than seq_length ${T}, ${stats.malformedSkipped} malformed lines skipped)`,
    );
  }
  return rows.finish(source, format, stats);
}

export function emptyStats(): DataStats {
  return { records: 0, rows: 0, malformedSkipped: 0, truncated: 0, dropped: 0 };
}
