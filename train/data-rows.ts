// Lays tokenised records out as fixed-length "unshifted" rows (LLaDA GUIDELINES, SFT section; NeMo
// AutoModel dataset.unshifted): [prompt ids][answer ids][end token][EOS padding], exactly T long,
// with prompt_mask on the prompt, loss_mask on answer + end token (+ padding when supervise_padding)
// and answer_length = supervised tokens of the row. Text documents are packed back to back with EOS
// after each, every position supervised (LLaDA pre-training). Padding uses the EOS id, as LLaDA
// does, not tokenizer.padId. Over-long SFT records are cut, dropped or refused, and counted.
// Deliberately no parsing or tokenising (train/data.ts) and no batching (train/data-order.ts).
import { UserError } from '../engine/errors.ts';
import type { DataFormat, TokenizeOptions } from './data.ts';

export interface DataStats {
  records: number; // well-formed records tokenised
  rows: number;
  malformedSkipped: number;
  truncated: number;
  dropped: number;
}

/** Tokenised rows, row-major: row r occupies [r*T, (r+1)*T). */
export interface TokenizedDataset {
  source: string;
  format: DataFormat;
  T: number;
  nRows: number;
  inputIds: Int32Array; // (R, T)
  promptMask: Uint8Array; // (R, T)
  lossMask: Uint8Array; // (R, T)
  answerLength: Int32Array; // (R,) supervised tokens per row
  stats: DataStats;
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

/** Growable typed storage so a large dataset costs 4 + 1 + 1 bytes per token, not a JS array. */
class RowBuilder {
  private ids = new Int32Array(0);
  private prompt = new Uint8Array(0);
  private loss = new Uint8Array(0);
  private lengths: number[] = [];
  constructor(
    private readonly T: number,
    private readonly eos: number,
    private readonly supervisePadding: boolean,
  ) {}
  get rows(): number {
    return this.lengths.length;
  }
  private reserve(rows: number): void {
    if (rows * this.T <= this.ids.length) return;
    const cap = Math.max(rows, 2 * (this.ids.length / this.T), 64) * this.T;
    const grow = <A extends Int32Array | Uint8Array>(a: A, make: (n: number) => A): A => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.ids = grow(this.ids, (n) => new Int32Array(n));
    this.prompt = grow(this.prompt, (n) => new Uint8Array(n));
    this.loss = grow(this.loss, (n) => new Uint8Array(n));
  }
  /** tokens.length <= T; the first promptLen are prompt, the rest supervised, then EOS padding. */
  add(tokens: readonly number[], promptLen: number): void {
    const r = this.rows;
    this.reserve(r + 1);
    const base = r * this.T;
    let supervised = 0;
    for (let i = 0; i < this.T; i++) {
      const real = i < tokens.length;
      const isPrompt = i < promptLen;
      const sup = !isPrompt && (real || this.supervisePadding);
      this.ids[base + i] = real ? tokens[i] : this.eos;
      this.prompt[base + i] = isPrompt ? 1 : 0;
      this.loss[base + i] = sup ? 1 : 0;
      if (sup) supervised++;
    }
    this.lengths.push(supervised);
  }
  finish(source: string, format: DataFormat, stats: DataStats): TokenizedDataset {
    const n = this.rows * this.T;
    return {
      source,
      format,
      T: this.T,
      nRows: this.rows,
      inputIds: this.ids.slice(0, n),
      promptMask: this.prompt.slice(0, n),
      lossMask: this.loss.slice(0, n),
      answerLength: Int32Array.from(this.lengths),
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
  if (rows.rows === 0) {
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
