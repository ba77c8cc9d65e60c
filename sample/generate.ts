// Block-wise masked-diffusion sampling as LLaDA's reference generate() (GSAI-ML/LLaDA generate.py)
// computes it: x = prompt + gen_length masks; blocks of block_length; steps/num_blocks steps per
// block; at each step the block's remaining masks are split evenly over its remaining steps (the
// remainder to the earliest steps); per step one forward of the whole sequence, optional
// classifier-free guidance (unconditional input = prompt replaced by masks; u + (cfg+1)(c - u)),
// argmax with Gumbel noise at the temperature (argmax(l/T + g) is the exact log-space form of
// LLaDA's exp(l) / (-log u)^T), confidence = noise-free softmax probability of the prediction
// (low_confidence) or uniform random (random); only masked positions of the current block can
// be committed; the top-k by confidence are committed (ties: lower position first).
// Every random draw (Gumbel noise, random remasking) is keyed by what belongs to the prompt itself:
// its seed, the block, its step within the block and the position counted from its first generated
// token (kernels/sample-pick/noise-key.ts), never by its batch row or padding, so a prompt samples
// the same tokens alone or in any batch. LLaDA draws torch.rand over the whole batch instead.
// Beyond the reference: Fast-dLLM's confidence threshold (Wu et al. 2025, "Fast-dLLM", parallel
// decoding: commit every masked position of the block with confidence >= threshold, at least the
// best one), early stop once every row has an end token with no mask before it, EOS suppression.
// Deliberately not here: tokenisation/chat formatting (sample/prompt.ts), the GPU picking kernel
// (sample/denoiser.ts), infilling (sample/infill.ts).
import { UserError } from '../engine/errors.ts';
import { remaskUniform } from '../kernels/sample-pick/noise-key.ts';

export type Remasking = 'low_confidence' | 'random';

export interface GenerateOptions {
  steps: number;
  genLength: number;
  blockLength: number;
  temperature: number;
  remasking: Remasking;
  cfgScale: number;
  seed: number;
  /** One seed per prompt (default: each uses `seed`); several choices of one prompt pass seed + i. */
  seeds?: number[];
  maskId: number;
  /** End tokens: EOS and end-of-turn. */
  endIds: number[];
  /** Forbid end tokens as predictions (LLaDA logits_eos_inf). */
  logitsEosInf?: boolean;
  /** Never commit an end token by confidence (LLaDA confidence_eos_eot_inf): its confidence is -inf. */
  confidenceEosEotInf?: boolean;
  /** Fast-dLLM parallel decoding threshold; undefined = LLaDA's fixed schedule. */
  threshold?: number;
  /** Stop once every row has an end token with nothing masked before it. */
  earlyStop?: boolean;
  /**
   * generate() only: asked before every step for each row still in the batch (by its prompt's
   * index); a row it answers true for leaves the batch, so later forwards no longer compute it, and
   * its output is what it had committed. The other rows sample what they would have (batch
   * invariance). A server drops a disconnected client's row this way.
   */
  cancelled?: (prompt: number) => boolean;
  /** After every step. `rows[b]` is the prompt index of batch row b (rows leave on `cancelled`). */
  onStep?(s: {
    x: Int32Array;
    B: number;
    L: number;
    promptLen: number;
    block: number;
    step: number;
    nfe: number;
    rows: number[];
  }): void;
}

/** What one denoising step needs from the model: per position the predicted token and confidence. */
export interface Denoiser {
  /** Rows of x [B, L]; keyMask [B, L] (1 = real token, 0 = left padding); uncond: the CFG input. */
  predict(args: {
    x: Int32Array;
    B: number;
    L: number;
    keyMask: Float32Array | undefined;
    uncond: Int32Array | undefined;
    cfgScale: number;
    temperature: number;
    /** Gumbel noise keys (kernels/sample-pick/noise-key.ts): each row's seed and origin (the
     *  position counted as 0), the block index and blockStep. */
    seeds: number[];
    origins: number[];
    block: number;
    suppressIds: number[];
    /** Positions whose prediction matters (others may be skipped): [from, to) of each row. */
    from: number;
    to: number;
    /** Step within the current block (0 = the block's first step: caches must be refreshed). */
    blockStep: number;
  }): Promise<{ tokens: Int32Array; conf: Float32Array }>;
}

export interface GenerateResult {
  /** gen_length generated ids per row, as committed (masks left where early stop skipped them). */
  outputIds: number[][];
  nfe: number;
  seconds: number;
}

export function checkOptions(
  o: GenerateOptions,
  promptLen: number,
  maxLen: number,
): { numBlocks: number; stepsPerBlock: number } {
  const bad = (m: string): never => {
    throw new UserError(m);
  };
  for (const [k, v] of [
    ['steps', o.steps],
    ['gen-length', o.genLength],
    ['block-length', o.blockLength],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) bad(`--${k} must be a positive integer, got ${v}`);
  }
  // Each step commits at least one token (LLaDA's schedule gives extra steps nothing to do), and a
  // step count past the tokens would only size schedules by it: refused before anything is built.
  if (o.steps > o.genLength)
    bad(`--steps ${o.steps} is more than --gen-length ${o.genLength}: each step commits at least one token`);
  if (o.genLength % o.blockLength !== 0)
    bad(`--gen-length ${o.genLength} is not divisible by --block-length ${o.blockLength}`);
  const numBlocks = o.genLength / o.blockLength;
  if (o.steps % numBlocks !== 0)
    bad(`--steps ${o.steps} is not divisible by the number of blocks (${numBlocks} = gen-length / block-length)`);
  if (!(o.temperature >= 0)) bad(`--temperature must be >= 0, got ${o.temperature}`);
  if (!(o.cfgScale >= 0)) bad(`--cfg-scale must be >= 0, got ${o.cfgScale}`);
  if (o.threshold !== undefined && !(o.threshold > 0 && o.threshold <= 1))
    bad(`--threshold must be in (0, 1], got ${o.threshold}`);
  if (promptLen < 1) bad('the prompt is empty');
  if (promptLen + o.genLength > maxLen) {
    bad(`prompt (${promptLen} tokens) + gen-length (${o.genLength}) exceeds the model's max_sequence_length ${maxLen}`);
  }
  return { numBlocks, stepsPerBlock: o.steps / numBlocks };
}

/** Ids up to the first end token or leftover mask (what an answer's text is decoded from). */
export function trimEnd(ids: number[], endIds: number[], maskId: number): number[] {
  const end = ids.findIndex((t) => endIds.includes(t) || t === maskId);
  return end < 0 ? ids : ids.slice(0, end);
}

/** LLaDA's get_num_transfer_tokens: `count` masks over `steps` steps, remainder first. */
export function transferSchedule(count: number, steps: number): number[] {
  const base = Math.floor(count / steps),
    rem = count % steps;
  return Array.from({ length: steps }, (_, i) => base + (i < rem ? 1 : 0));
}

/** Indices of the k largest values (ties: lower index first). */
export function topK(values: Float64Array | Float32Array | number[], candidates: number[], k: number): number[] {
  return [...candidates].sort((a, b) => (values[b] === values[a] ? a - b : values[b] - values[a])).slice(0, k);
}

/** Left-pad prompts to a common length with `padId`; keyMask marks the real tokens. */
export function padPrompts(
  prompts: number[][],
  padId: number,
): { ids: number[][]; P: number; keyMask: Float32Array | undefined } {
  const P = Math.max(...prompts.map((p) => p.length));
  const needMask = prompts.some((p) => p.length !== P);
  const ids = prompts.map((p) => [...new Array<number>(P - p.length).fill(padId), ...p]);
  return {
    ids,
    P,
    keyMask: needMask
      ? Float32Array.from(
          prompts.flatMap((p) => [
            ...new Array<number>(P - p.length).fill(0),
            ...new Array<number>(P).fill(1).slice(P - p.length),
          ]),
        )
      : undefined,
  };
}

/** A batch being denoised (shared with infill.ts). */
export interface Seq {
  x: Int32Array;
  B: number;
  L: number;
  keyMask: Float32Array | undefined;
  /** CFG: 1 where the unconditional input has a mask instead of the token (the condition: the prompt). */
  cond: Uint8Array | undefined;
  promptLen: number;
  /** Per row: its seed, and the position its noise keys count as 0. */
  seeds: number[];
  origins: number[];
  /** Per row: the index of its prompt (rows leave the batch on `o.cancelled`). */
  rows: number[];
  /** Rows that left the batch: their sequence as it was then, by prompt index. */
  left: Map<number, Int32Array>;
}

/** Keep only batch rows `keep` of q (their order kept); the others' sequences go to q.left. */
function keepRows(q: Seq, keep: number[]): void {
  const { L } = q;
  const pick = <T extends Int32Array | Float32Array | Uint8Array>(a: T): T => {
    const out = new (a.constructor as new (n: number) => T)(keep.length * L);
    keep.forEach((b, k) => out.set(a.subarray(b * L, (b + 1) * L), k * L));
    return out;
  };
  q.rows.forEach((r, b) => {
    if (!keep.includes(b)) q.left.set(r, q.x.slice(b * L, (b + 1) * L));
  });
  q.x = pick(q.x);
  if (q.keyMask) q.keyMask = pick(q.keyMask);
  if (q.cond) q.cond = pick(q.cond);
  q.seeds = keep.map((b) => q.seeds[b]);
  q.origins = keep.map((b) => q.origins[b]);
  q.rows = keep.map((b) => q.rows[b]);
  q.B = keep.length;
}

/**
 * Denoise positions [s0, s1) of every row until its schedule ends (fixed `steps`) or, with a
 * threshold, until no mask is left there. Returns the forward evaluations used.
 */
export async function denoiseBlock(
  den: Denoiser,
  q: Seq,
  s0: number,
  s1: number,
  steps: number,
  blk: number,
  nfe0: number,
  o: GenerateOptions,
): Promise<number> {
  let { x, B } = q;
  const { L } = q;
  const suppress = o.logitsEosInf ? o.endIds : [];
  let sched = Array.from({ length: B }, (_, b) => {
    let cnt = 0;
    for (let i = s0; i < s1; i++) if (x[b * L + i] === o.maskId) cnt++;
    return transferSchedule(cnt, steps);
  });
  let nfe = nfe0;
  for (let step = 0; ; step++) {
    const cancelled = o.cancelled;
    if (cancelled && q.rows.some((r) => cancelled(r))) {
      const keep = q.rows.flatMap((r, b) => (cancelled(r) ? [] : [b]));
      sched = keep.map((b) => sched[b]);
      keepRows(q, keep);
      ({ x, B } = q);
      if (!B) break;
    }
    const masked: number[][] = Array.from({ length: B }, (_, b) => {
      const r: number[] = [];
      for (let i = s0; i < s1; i++) if (x[b * L + i] === o.maskId) r.push(i);
      return r;
    });
    if (o.threshold === undefined ? step >= steps : masked.every((r) => r.length === 0)) break;
    let uncond: Int32Array | undefined;
    if (q.cond) {
      uncond = x.slice();
      for (let k = 0; k < B * L; k++) if (q.cond[k]) uncond[k] = o.maskId;
    }
    const { tokens, conf } = await den.predict({
      x,
      B,
      L,
      keyMask: q.keyMask,
      uncond,
      cfgScale: o.cfgScale,
      temperature: o.temperature,
      seeds: q.seeds,
      origins: q.origins,
      block: blk,
      suppressIds: suppress,
      from: s0,
      to: s1,
      blockStep: step,
    });
    nfe++;
    // Rows start a block together, so `step` is each row's own step while it still has masks.
    const random = o.remasking === 'random';
    for (let b = 0; b < B; b++) {
      const cand = masked[b];
      if (!cand.length) continue;
      const score = new Float64Array(L).fill(-Infinity);
      for (const i of cand) {
        let c = random ? remaskUniform(q.seeds[b], blk, step, (i - q.origins[b]) >>> 0) : conf[b * L + i];
        if (o.confidenceEosEotInf && o.endIds.includes(tokens[b * L + i])) c = -Infinity;
        score[i] = c;
      }
      let pick: number[];
      if (o.threshold === undefined) pick = topK(score, cand, sched[b][step]);
      else {
        pick = cand.filter((i) => score[i] >= o.threshold!);
        if (!pick.length) pick = topK(score, cand, 1);
      }
      for (const i of pick) x[b * L + i] = tokens[b * L + i];
    }
    o.onStep?.({ x, B, L, promptLen: q.promptLen, block: blk, step, nfe, rows: q.rows });
  }
  return nfe;
}

/** True when every row has an end token in [from, L) with no mask before it. */
function allEnded(q: Seq, from: number, o: GenerateOptions): boolean {
  for (let b = 0; b < q.B; b++) {
    let ok = false;
    for (let i = from; i < q.L; i++) {
      const t = q.x[b * q.L + i];
      if (t === o.maskId) break;
      if (o.endIds.includes(t)) {
        ok = true;
        break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

/** Each row's noise seed: `o.seeds` when given (one per prompt), else `o.seed` for every row. */
export function rowSeeds(rows: number, o: GenerateOptions): number[] {
  const seeds = o.seeds ?? Array.from({ length: rows }, () => o.seed);
  if (seeds.length !== rows) throw new UserError(`${seeds.length} seeds for ${rows} prompts`);
  for (const s of seeds)
    if (!Number.isSafeInteger(s) || s < 0) throw new UserError(`seed must be an integer in [0, 2^53), got ${s}`);
  return seeds;
}

/** Rows left-padded into one batch; noise positions count from the first generated token (extra
 *  > 0) or, for infill, from the row's first token. */
function makeSeq(rows: number[][], padId: number, extra: number, o: GenerateOptions): Seq {
  const seeds = rowSeeds(rows.length, o);
  const { ids, P, keyMask: promptMask } = padPrompts(rows, padId);
  const B = rows.length,
    L = P + extra;
  const x = new Int32Array(B * L).fill(o.maskId);
  ids.forEach((r, b) => x.set(r, b * L));
  const keyMask = promptMask ? new Float32Array(B * L).fill(1) : undefined;
  if (keyMask && promptMask)
    for (let b = 0; b < B; b++) for (let i = 0; i < P; i++) keyMask[b * L + i] = promptMask[b * P + i];
  let cond: Uint8Array | undefined;
  if (o.cfgScale > 0) {
    cond = new Uint8Array(B * L);
    for (let b = 0; b < B; b++) for (let i = 0; i < P; i++) if (!keyMask || keyMask[b * L + i]) cond[b * L + i] = 1;
  }
  const origins = rows.map((r) => (extra > 0 ? P : P - r.length));
  return { x, B, L, keyMask, cond, promptLen: P, seeds, origins, rows: rows.map((_, b) => b), left: new Map() };
}

export async function generate(
  den: Denoiser,
  prompts: number[][],
  padId: number,
  maxLen: number,
  o: GenerateOptions,
): Promise<GenerateResult> {
  if (!prompts.length) throw new UserError('no prompts to generate from');
  const t0 = performance.now();
  if (prompts.some((p) => p.length === 0)) throw new UserError('a prompt is empty');
  const P = Math.max(...prompts.map((p) => p.length));
  const { numBlocks, stepsPerBlock } = checkOptions(o, P, maxLen);
  const q = makeSeq(prompts, padId, o.genLength, o);
  let nfe = 0;
  for (let blk = 0; blk < numBlocks; blk++) {
    const s0 = P + blk * o.blockLength;
    nfe = await denoiseBlock(den, q, s0, s0 + o.blockLength, stepsPerBlock, blk, nfe, o);
    if (!q.B || (o.earlyStop !== false && blk < numBlocks - 1 && allEnded(q, P, o))) break;
  }
  const outputIds = prompts.map((_, r) => {
    const b = q.rows.indexOf(r);
    return Array.from(b >= 0 ? q.x.subarray(b * q.L + P, (b + 1) * q.L) : q.left.get(r)!.subarray(P));
  });
  return { outputIds, nfe, seconds: (performance.now() - t0) / 1000 };
}
