// Infilling: the rows already hold mask tokens (the [MASK] spans) and only those are filled, block
// by block as NeMo AutoModel's dLLM sampler infills (examples/dllm_generate/generate.py,
// DLLMSampler.infill): the sequence is cut into blocks of `blockLength` tokens counted from each
// row's first token, and the blocks are denoised left to right with LLaDA's per-block schedule, so
// an early span is settled before a later one is started.
// Choices of our own: rows are right-padded (block k covers the same tokens of every row, whatever
// the batch); blocks with no mask in any row are skipped, where NeMo still runs its forwards on
// them; `steps` is the total over the blocks that hold masks (earlier blocks get the remainder).
// Classifier-free guidance is LLaDA's (generate.py, cfg_scale): the condition is the text the user
// gave, so the unconditional input has every given token replaced by a mask, while the tokens
// filled in so far stay, as LLaDA's unconditional input keeps the generated ones.
// Deliberately not here: the step itself (generate.ts's denoiseBlock), prompts (prompt.ts).
import { UserError } from '../engine/errors.ts';
import {
  denoiseBlock,
  rowSeeds,
  transferSchedule,
  type Denoiser,
  type GenerateOptions,
  type GenerateResult,
} from './generate.ts';

/** Output rows are the whole sequences, masks filled. `o.genLength` is not used. */
export async function infill(
  den: Denoiser,
  rows: number[][],
  padId: number,
  maxLen: number,
  o: GenerateOptions,
): Promise<GenerateResult> {
  if (!rows.length) throw new UserError('no prompts to infill');
  const t0 = performance.now();
  for (const [k, v] of [
    ['steps', o.steps],
    ['block-length', o.blockLength],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new UserError(`--${k} must be a positive integer, got ${v}`);
  }
  if (!(o.cfgScale >= 0)) throw new UserError(`--cfg-scale must be >= 0, got ${o.cfgScale}`);
  if (o.threshold !== undefined && !(o.threshold > 0 && o.threshold <= 1))
    throw new UserError(`--threshold must be in (0, 1], got ${o.threshold}`);
  const B = rows.length;
  const L = Math.max(...rows.map((r) => r.length));
  if (L > maxLen) throw new UserError(`infill prompt of ${L} tokens exceeds the model's max_sequence_length ${maxLen}`);
  rows.forEach((r, b) => {
    if (!r.includes(o.maskId)) throw new UserError(`infill prompt ${b + 1} has no mask span to fill`);
  });
  if (o.steps > L) throw new UserError(`--steps ${o.steps} is more than the ${L} tokens of the longest infill prompt`);

  const x = new Int32Array(B * L).fill(padId);
  rows.forEach((r, b) => x.set(r, b * L));
  const ragged = rows.some((r) => r.length !== L);
  const keyMask = ragged ? new Float32Array(B * L) : undefined;
  if (keyMask) rows.forEach((r, b) => keyMask.fill(1, b * L, b * L + r.length));
  let cond: Uint8Array | undefined;
  if (o.cfgScale > 0) {
    cond = new Uint8Array(B * L);
    rows.forEach((r, b) => r.forEach((t, i) => (cond![b * L + i] = t === o.maskId ? 0 : 1)));
  }
  // Rows are right-padded, so every row's noise positions count from its first token.
  // No `cancelled` here: rows stay (q.rows is only read when o.cancelled is set, and infill drops it).
  const q = {
    x,
    B,
    L,
    keyMask,
    cond,
    promptLen: 0,
    seeds: rowSeeds(B, o),
    origins: rows.map(() => 0),
    rows: rows.map((_, b) => b),
    left: new Map<number, Int32Array>(),
  };

  const blocks: number[] = [];
  for (let s0 = 0; s0 < L; s0 += o.blockLength) {
    const s1 = Math.min(s0 + o.blockLength, L);
    if (rows.some((r) => r.slice(s0, s1).includes(o.maskId))) blocks.push(s0);
  }
  const steps = transferSchedule(o.steps, blocks.length).map((s) => Math.max(1, s));
  let nfe = 0;
  for (let k = 0; k < blocks.length; k++) {
    const s0 = blocks[k];
    nfe = await denoiseBlock(den, q, s0, Math.min(s0 + o.blockLength, L), steps[k], k, nfe, {
      ...o,
      cancelled: undefined,
    });
  }
  const outputIds = rows.map((r, b) => Array.from(x.subarray(b * L, b * L + r.length)));
  return { outputIds, nfe, seconds: (performance.now() - t0) / 1000 };
}
