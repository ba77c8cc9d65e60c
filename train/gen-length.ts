// Random generation lengths for SFT rows, so a model learns to answer at any gen_length and not
// only in the one layout of its training rows. Sampling (LLaDA's generate(), GSAI-ML/LLaDA
// generate.py) puts gen_length masks after the prompt, and the model must fill them with the answer
// and then EOS, whatever gen_length is. LLaDA gets there by padding SFT answers with supervised
// EOS tokens (the EOS is removed after sampling) and by cutting 1% of pre-training sequences to a
// random length (GSAI-ML/LLaDA GUIDELINES.md, SFT and pre-training). Here each micro-batch draws G
// uniformly from dataset.gen_length = [min, max] and every row becomes prompt + G positions (its
// answer, end token and EOS padding, or the first G answer tokens with no end token when the
// answer is longer): the layout `sample --gen-length G` gives it. Rows of one batch share G, not
// their length (prompts differ), so shorter rows are padded to the batch's longest and a key mask
// hides the padding from attention; it is never masked or supervised. G is
// Philox(seed, streamOf(genLength, step, micro-batch)), so a resumed run draws the same lengths.
// Deliberately not here: the corruption (train/mdlm.ts) and the rows themselves (train/data-rows.ts).
import { STREAM_TAG, randomU32, streamOf, u32Below } from '../kernels/rng/philox.ts';
import type { Batch } from './data-order.ts';

export interface GenLengthRange {
  min: number;
  max: number;
}

/** The gen length of micro-batch `micro` of optimizer step `step` (VALIDATION_STEP for validation). */
export function drawGenLength(seed: number, step: number, micro: number, r: GenLengthRange): number {
  return r.min + u32Below(randomU32(seed, streamOf(STREAM_TAG.genLength, step, micro), 0), r.max - r.min + 1);
}

/**
 * The batch with every row laid out as prompt + G positions (capped by the row's stored length),
 * T = the longest such row, and a key mask when some row is shorter than T.
 */
export function layoutForGenLength(batch: Batch, G: number): Batch {
  if (!Number.isInteger(G) || G < 1) throw new RangeError(`gen length must be an integer >= 1, got ${G}`);
  const { B, T: Tin } = batch;
  const len = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let P = 0;
    while (P < Tin && batch.promptMask[b * Tin + P]) P++;
    len[b] = Math.min(P + G, Tin);
  }
  const T = Math.max(...len);
  const out: Batch = {
    B,
    T,
    inputIds: new Int32Array(B * T),
    promptMask: new Uint8Array(B * T),
    lossMask: new Uint8Array(B * T),
    answerLength: new Int32Array(B),
  };
  const keyMask = new Float32Array(B * T);
  let ragged = false;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < T; i++) {
      const src = b * Tin + i,
        dst = b * T + i;
      out.inputIds[dst] = batch.inputIds[src]; // past the row's end: a valid id, hidden and never masked
      if (i < len[b]) {
        out.promptMask[dst] = batch.promptMask[src];
        out.lossMask[dst] = batch.lossMask[src];
        out.answerLength[b] += batch.lossMask[src];
        keyMask[dst] = 1;
      } else {
        out.promptMask[dst] = 1;
        ragged = true;
      }
    }
  }
  if (ragged) out.keyMask = keyMask;
  return out;
}
