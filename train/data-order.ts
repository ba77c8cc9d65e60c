// Deterministic data order and batch assembly over a tokenised dataset. Epoch e visits the rows in
// the order of a Fisher-Yates shuffle driven by Philox (key = shuffle_seed, stream tag dataShuffle,
// stream word = e), so the order is a pure function of (shuffle_seed, epoch) and a run resumed from
// a saved DataPosition {epoch, index} sees exactly the rows the uninterrupted run would have.
// Batches run across epoch boundaries (no dropped remainder). Deliberately no prefetching, workers
// or length bucketing: rows are already fixed-length, read from the token store one by one.
import { UserError } from '../engine/errors.ts';
import { STREAM_TAG, philoxPermutation, streamOf } from '../kernels/rng/philox.ts';
import type { TokenizedDataset } from './data.ts';

/** A micro-batch in the layout the trainer uploads. */
export interface Batch {
  B: number;
  T: number;
  inputIds: Int32Array; // (B, T)
  promptMask: Uint8Array; // (B, T) 1 = prompt: never masked, never supervised
  lossMask: Uint8Array; // (B, T) 1 = supervised
  answerLength: Int32Array; // (B,) supervised tokens per row
  keyMask?: Float32Array; // (B, T) 1 = a real position, 0 = past the row's end (hidden from attention)
}

/** Where the next row comes from: row `index` of epoch `epoch`'s permutation. */
export interface DataPosition {
  epoch: number;
  index: number;
}

/** Epoch `epoch`'s visiting order of rows 0..n-1. */
export function epochPermutation(n: number, shuffleSeed: number, epoch: number): Uint32Array {
  return philoxPermutation(n, shuffleSeed, streamOf(STREAM_TAG.dataShuffle, epoch, 0));
}

export class DataOrder {
  private epoch: number;
  private index: number;
  private perm: Uint32Array | undefined;
  private permEpoch = -1;

  constructor(
    readonly nRows: number,
    readonly shuffleSeed: number,
    start: DataPosition = { epoch: 0, index: 0 },
    readonly shuffle = true,
  ) {
    if (!Number.isInteger(nRows) || nRows < 1) throw new UserError(`data order needs at least one row, got ${nRows}`);
    if (!Number.isInteger(start.epoch) || start.epoch < 0 || !Number.isInteger(start.index) || start.index < 0) {
      throw new UserError(`invalid data position ${JSON.stringify(start)}`);
    }
    if (start.index > nRows) {
      throw new UserError(
        `saved data position ${JSON.stringify(start)} is past the end of a ${nRows}-row dataset; did the data change?`,
      );
    }
    this.epoch = start.epoch;
    this.index = start.index;
  }

  /** The position of the next row; save it with a checkpoint to resume. */
  get position(): DataPosition {
    return { epoch: this.epoch, index: this.index };
  }

  /** Epochs completed so far, fractional (for "epoch 1.25" in logs and num_epochs stops). */
  get epochsDone(): number {
    return this.epoch + this.index / this.nRows;
  }

  private order(): Uint32Array {
    if (this.permEpoch !== this.epoch) {
      if (this.shuffle) this.perm = epochPermutation(this.nRows, this.shuffleSeed, this.epoch);
      else this.perm = Uint32Array.from({ length: this.nRows }, (_, i) => i);
      this.permEpoch = this.epoch;
    }
    return this.perm!;
  }

  /** The next `count` row indices, continuing into the next epoch when this one runs out. */
  take(count: number): number[] {
    const rows: number[] = [];
    while (rows.length < count) {
      if (this.index === this.nRows) {
        this.epoch++;
        this.index = 0;
      }
      rows.push(this.order()[this.index++]);
    }
    return rows;
  }
}

/** Gathers rows of a dataset into one batch. */
export function makeBatch(ds: TokenizedDataset, rows: readonly number[]): Batch {
  const T = ds.T;
  const B = rows.length;
  const batch: Batch = {
    B,
    T,
    inputIds: new Int32Array(B * T),
    promptMask: new Uint8Array(B * T),
    lossMask: new Uint8Array(B * T),
    answerLength: new Int32Array(B),
  };
  rows.forEach((r, b) => {
    if (!Number.isInteger(r) || r < 0 || r >= ds.nRows) throw new RangeError(`row ${r} not in [0, ${ds.nRows})`);
    ds.store.readRow(r, batch.inputIds, batch.promptMask, batch.lossMask, b);
    batch.answerLength[b] = ds.answerLength[r]!;
  });
  return batch;
}

/** Validation batches in row order; the last one is short when B does not divide the row count. */
export function* sequentialBatches(ds: TokenizedDataset, B: number): Generator<Batch> {
  for (let start = 0; start < ds.nRows; start += B) {
    const rows: number[] = [];
    for (let r = start; r < Math.min(start + B, ds.nRows); r++) rows.push(r);
    yield makeBatch(ds, rows);
  }
}

/** Optimizer steps that cover `numEpochs` passes at `globalBatch` rows per step (rounded up). */
export function stepsForEpochs(nRows: number, globalBatch: number, numEpochs: number): number {
  return Math.ceil((nRows * numEpochs) / globalBatch);
}
