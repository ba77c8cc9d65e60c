// LLaDA's generate() written plainly on the CPU for the sampler's tests: one prompt, no batch, no
// padding; float64 logits (tests/llada-ref.ts); Gumbel noise and random remasking drawn with the
// sampler's keys (kernels/sample-pick/noise-key.ts) through the float64 pick reference. Returns x
// after every step, and how firmly each step decided: the smallest lead of a candidate's best
// noised score over its runner-up, and the smallest gap at the commit boundary (between the last
// committed and the first kept confidence, or between a confidence and the threshold). A GPU run
// whose logits are within e of these may only differ from it where a lead or gap is below ~2e.
import type { ModelConfig } from '../model/config.ts';
import { lladaForwardRef, type Weights } from '../tests/llada-ref.ts';
import { pickRefWithMargin } from '../kernels/sample-pick/sample-pick.ref.ts';
import { remaskUniform } from '../kernels/sample-pick/noise-key.ts';
import { transferSchedule, type Remasking } from './generate.ts';

export interface RefOptions {
  steps: number;
  gen: number;
  block: number;
  cfgScale: number;
  temperature: number;
  remasking: Remasking;
  seed: number;
  threshold?: number;
  /** Token ids never predicted (LLaDA logits_eos_inf: the end tokens). */
  suppress?: number[];
}

export interface RefStep {
  x: number[];
  /** Per position: the commit score (confidence or remasking uniform); -Infinity off the candidates. */
  conf: number[];
  /** Smallest best-minus-runner-up noised score over this step's candidates. */
  tokenLead: number;
  /** Smallest distance of a commit decision from flipping (Infinity for random remasking's exact draws). */
  commitGap: number;
  /** Largest |logit| the step's picks saw (after CFG). */
  maxAbsLogit: number;
}

export function cpuGenerate(cfg: ModelConfig, w: Weights, prompt: number[], o: RefOptions, maskId: number): RefStep[] {
  const V = cfg.vocab_size;
  const P = prompt.length,
    L = P + o.gen;
  const x = [...prompt, ...new Array<number>(o.gen).fill(maskId)];
  const states: RefStep[] = [];
  const nb = o.gen / o.block,
    spb = o.steps / nb;
  for (let blk = 0; blk < nb; blk++) {
    const s0 = P + blk * o.block,
      s1 = s0 + o.block;
    const counts = transferSchedule(x.slice(s0, s1).filter((t) => t === maskId).length, spb);
    for (let s = 0; o.threshold === undefined ? s < spb : x.slice(s0, s1).includes(maskId); s++) {
      let logits = lladaForwardRef(cfg, w, x, 1, L);
      if (o.cfgScale > 0) {
        const un = lladaForwardRef(
          cfg,
          w,
          x.map((t, i) => (i < P ? maskId : t)),
          1,
          L,
        );
        logits = logits.map((c, i) => un[i] + (o.cfgScale + 1) * (c - un[i]));
      }
      const pick = pickRefWithMargin(logits, {
        V,
        rows: L,
        cfg: 0,
        temperature: o.temperature,
        noise: { block: blk, rowsPerSeq: L, start: 0, seqs: [{ seed: o.seed, origin: P, step: s }] },
        suppress: o.suppress ?? [],
      });
      const cand = [...x.keys()].filter((i) => i >= s0 && i < s1 && x[i] === maskId);
      const conf = new Array<number>(L).fill(-Infinity);
      let tokenLead = Infinity;
      for (const i of cand) {
        conf[i] = o.remasking === 'random' ? remaskUniform(o.seed, blk, s, i - P) : pick[3 * i + 1];
        tokenLead = Math.min(tokenLead, pick[3 * i + 2]);
      }
      const order = [...cand].sort((a, c) => conf[c] - conf[a] || a - c);
      let commit: number[];
      let commitGap = Infinity;
      if (o.threshold === undefined) {
        commit = order.slice(0, counts[s]);
        if (counts[s] > 0 && counts[s] < order.length) commitGap = conf[order[counts[s] - 1]] - conf[order[counts[s]]];
      } else {
        commit = order.filter((i) => conf[i] >= o.threshold!);
        for (const i of cand) commitGap = Math.min(commitGap, Math.abs(conf[i] - o.threshold));
        if (!commit.length) {
          commit = order.slice(0, 1);
          if (order.length > 1) commitGap = Math.min(commitGap, conf[order[0]] - conf[order[1]]);
        }
      }
      if (o.remasking === 'random') commitGap = Infinity;
      for (const i of commit) x[i] = pick[3 * i];
      let maxAbsLogit = 0;
      for (const l of logits) maxAbsLogit = Math.max(maxAbsLogit, Math.abs(l));
      states.push({ x: [...x], conf, tokenLead, commitGap, maxAbsLogit });
    }
  }
  return states;
}
