// Exact-match accuracy of generated answers: prompts grouped by token length (rows of a batch share
// their layout: prompt, then gen_length answer positions, either a fixed gen_length or T - P, the
// layout of fixed-length training rows), generated greedily with one committed token per step
// inside one block, decoded up to the first end token and compared by a caller-given check (the
// builtin tasks' exact answers).
// Deliberately not here: which prompts are held out (train/tasks.ts owns the split).
import type { LLaDAModel } from '../model/llada.ts';
import { endTokenIds, type Tokenizer } from '../model/tokenizer.ts';
import { generate, trimEnd, type GenerateOptions } from './generate.ts';
import { modelDenoiser, type CacheMode } from './denoiser.ts';

export interface ExactMatchOptions {
  /** Total sequence length the model was trained on (prompt + answer + EOS padding): gen_length = T - P. */
  seqLength?: number;
  /** The same gen_length for every prompt (instead of seqLength). */
  genLength?: number;
  batchSize?: number;
  /** Extra generate options (threshold, cache, remasking...). Steps default to one token per step. */
  gen?: Partial<GenerateOptions>;
  /** Steps as a fraction of gen_length (1 = one token per step). */
  stepsPerToken?: number;
  cache?: CacheMode;
}

export interface ExactMatchResult {
  accuracy: number;
  correct: number;
  total: number;
  nfe: number;
  seconds: number;
  /** Tokens of model input evaluated by forward passes (for FLOP accounting). */
  tokensEvaluated: number;
  /** Attention query-key pairs per layer, summed over forwards. */
  attnPairs: number;
  /** Tokens generated (answer positions across prompts). */
  generated: number;
  examples: { prompt: string; output: string; ok: boolean }[];
}

export function decodeAnswer(tok: Tokenizer, ids: number[], endIds: number[], maskId: number): string {
  return tok.decode(trimEnd(ids, endIds, maskId), { skipSpecial: true });
}

export async function exactMatch(
  model: LLaDAModel,
  tok: Tokenizer,
  prompts: string[],
  check: (prompt: string, output: string) => boolean,
  o: ExactMatchOptions,
): Promise<ExactMatchResult> {
  const den = modelDenoiser(model, { cache: o.cache });
  let generated = 0;
  const endIds = endTokenIds(tok);
  const groups = new Map<number, { text: string; ids: number[] }[]>();
  for (const p of prompts) {
    const ids = tok.encode(p);
    const g = groups.get(ids.length) ?? [];
    g.push({ text: p, ids });
    groups.set(ids.length, g);
  }
  const bs = o.batchSize ?? 256;
  let correct = 0,
    nfe = 0;
  const examples: ExactMatchResult['examples'] = [];
  const t0 = performance.now();
  try {
    for (const [P, items] of [...groups.entries()].sort((a, b) => a[0] - b[0])) {
      const G = o.genLength ?? (o.seqLength ?? 0) - P;
      if (G < 1) continue;
      for (let i = 0; i < items.length; i += bs) {
        const chunk = items.slice(i, i + bs);
        const steps = Math.max(1, Math.round(G * (o.stepsPerToken ?? 1)));
        const r = await generate(
          den,
          chunk.map((c) => c.ids),
          tok.eosId,
          model.config.max_sequence_length,
          {
            steps,
            genLength: G,
            blockLength: G,
            temperature: 0,
            remasking: 'low_confidence',
            cfgScale: 0,
            seed: 0,
            maskId: model.config.mask_token_id,
            endIds,
            ...o.gen,
          },
        );
        nfe += r.nfe;
        generated += chunk.length * G;
        r.outputIds.forEach((ids, k) => {
          const out = decodeAnswer(tok, ids, endIds, model.config.mask_token_id);
          const ok = check(chunk[k].text, out);
          if (ok) correct++;
          examples.push({ prompt: chunk[k].text, output: out, ok });
        });
      }
    }
  } finally {
    den.dispose();
  }
  return {
    accuracy: prompts.length ? correct / prompts.length : 0,
    correct,
    total: prompts.length,
    nfe,
    seconds: (performance.now() - t0) / 1000,
    tokensEvaluated: den.tokensEvaluated,
    attnPairs: den.attnPairs,
    generated,
    examples,
  };
}
