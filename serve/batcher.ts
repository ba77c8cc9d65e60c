// The server's request queue and its one sampling loop. One batch runs at a time on the device;
// requests that arrive meanwhile wait, and the next batch takes the oldest waiting request plus
// every other waiting one with the same knobs (gen length, block length, steps, temperature, ...)
// while its rows fit --max-batch. Prompts of different lengths share a batch left-padded; sampling
// is batch-invariant (sample/generate.ts), so a row gets the tokens it would get alone. A row whose
// client has gone, or whose answer has ended, leaves the running batch before the next step
// (generate's `cancelled`), so it stops costing compute. A full queue refuses with 429.
// Deliberately not here: HTTP and the response shapes (server.ts), what a row's text is (rows.ts).
import type { LLaDAModel } from '../model/llada.ts';
import { endTokenIds } from '../model/tokenizer.ts';
import { generate } from '../sample/generate.ts';
import { modelDenoiser } from '../sample/denoiser.ts';
import { HttpError, type Knobs } from './request.ts';

export interface StepInfo {
  block: number;
  step: number;
  nfe: number;
}

/** One choice of one request: its prompt and seed, and where its progress goes. */
export interface RowSink {
  ids: number[];
  seed: number;
  /** True once the client has gone or the answer has ended: the row leaves the batch. */
  cancelled(): boolean;
  /** After every denoising step: the generated region of the row (masks where not yet decided). */
  onStep(gen: Int32Array, info: StepInfo): void;
  /** The batch ended (gen = the row's last generated region) or failed. */
  onEnd(gen: Int32Array, err?: Error): void;
}

export interface Job {
  knobs: Knobs;
  rows: RowSink[];
}

export interface BatcherStats {
  /** Requests waiting for a batch. */
  waiting: number;
  /** Rows in the running batch that still compute. */
  runningRows: number;
  batches: number;
  forwards: number;
  /** Sum over forwards of the rows each computed (conditional rows; CFG doubles the work). */
  rowForwards: number;
  /** Rows that left a running batch before its end (disconnects, ended answers). */
  rowsLeft: number;
}

export class Batcher {
  private waiting: Job[] = [];
  private running = false;
  private idle: (() => void)[] = [];
  private batchSeconds: number[] = [];
  readonly stats: BatcherStats = { waiting: 0, runningRows: 0, batches: 0, forwards: 0, rowForwards: 0, rowsLeft: 0 };

  constructor(
    private model: LLaDAModel,
    private limits: { maxBatch: number; maxQueue: number },
  ) {}

  /** Queue a job; 429 (with the seconds to wait) when --max-queue requests already wait. */
  submit(job: Job): void {
    if (this.waiting.length >= this.limits.maxQueue) {
      const e = new HttpError(429, `the queue is full (${this.limits.maxQueue} requests wait): retry later`);
      (e as HttpError & { retryAfter: number }).retryAfter = this.retryAfter();
      throw e;
    }
    this.waiting.push(job);
    this.stats.waiting = this.waiting.length;
    if (!this.running) void this.loop();
  }

  /** Drop a job that has not started (its client left). */
  remove(job: Job): void {
    const i = this.waiting.indexOf(job);
    if (i >= 0) this.waiting.splice(i, 1);
    this.stats.waiting = this.waiting.length;
  }

  /** The jobs still waiting, removed from the queue (shutdown answers them). */
  takeWaiting(): Job[] {
    const w = this.waiting;
    this.waiting = [];
    this.stats.waiting = 0;
    return w;
  }

  /** Resolves when no batch runs. */
  whenIdle(): Promise<void> {
    return this.running ? new Promise((r) => this.idle.push(r)) : Promise.resolve();
  }

  /** Seconds until a new request may find room: the recent mean batch time per queued batch. */
  retryAfter(): number {
    const recent = this.batchSeconds.slice(-8);
    const mean = recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : 1;
    const rows = this.waiting.reduce((n, j) => n + j.rows.length, 0);
    return Math.max(1, Math.ceil(mean * Math.ceil(rows / this.limits.maxBatch)));
  }

  private next(): Job[] {
    const first = this.waiting.shift();
    if (!first) return [];
    const key = JSON.stringify(first.knobs);
    const batch = [first];
    let rows = first.rows.length;
    this.waiting = this.waiting.filter((j) => {
      if (JSON.stringify(j.knobs) !== key || rows + j.rows.length > this.limits.maxBatch) return true;
      batch.push(j);
      rows += j.rows.length;
      return false;
    });
    this.stats.waiting = this.waiting.length;
    return batch;
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      for (let jobs = this.next(); jobs.length; jobs = this.next()) {
        const t0 = performance.now();
        await this.runBatch(
          jobs[0].knobs,
          jobs.flatMap((j) => j.rows),
        );
        this.batchSeconds.push((performance.now() - t0) / 1000);
      }
    } finally {
      this.running = false;
      this.stats.runningRows = 0;
      for (const r of this.idle.splice(0)) r();
    }
  }

  private async runBatch(k: Knobs, rows: RowSink[]): Promise<void> {
    const live = rows.filter((r) => !r.cancelled());
    if (!live.length) return;
    const m = this.model;
    const tok = m.tokenizer;
    const maskId = m.config.mask_token_id;
    const den = modelDenoiser(m, { cache: k.cache });
    this.stats.batches++;
    this.stats.runningRows = live.length;
    const genOf = (b: number, x: Int32Array, L: number, P: number) => x.subarray(b * L + P, (b + 1) * L);
    try {
      const r = await generate(
        den,
        live.map((row) => row.ids),
        tok?.eosId ?? m.config.eos_token_id,
        m.config.max_sequence_length,
        {
          ...k,
          seeds: live.map((row) => row.seed),
          seed: 0,
          maskId,
          endIds: tok ? endTokenIds(tok) : [m.config.eos_token_id],
          cancelled: (i) => live[i].cancelled(),
          onStep: (s) => {
            this.stats.forwards++;
            this.stats.rowForwards += s.B;
            this.stats.rowsLeft += this.stats.runningRows - s.B;
            this.stats.runningRows = s.B;
            s.rows.forEach((i, b) => live[i].onStep(genOf(b, s.x, s.L, s.promptLen), s));
          },
        },
      );
      this.stats.runningRows = 0;
      r.outputIds.forEach((ids, i) => live[i].onEnd(Int32Array.from(ids)));
    } catch (e) {
      this.stats.runningRows = 0;
      for (const row of live) row.onEnd(new Int32Array(0), e as Error);
    } finally {
      den.dispose();
    }
  }
}
