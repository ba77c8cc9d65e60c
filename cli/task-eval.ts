// Held-out exact match of a builtin task after `train` (the CLI composes train/ and sample/, which
// never import each other): the held-out prompts are sampled greedily at each gen length the task
// is measured at (or, when training used fixed-length rows, in that one layout), and accuracy is
// reported overall, per stratum (addition: operand digits 1+1, 1+2, 2+1, 2+2) and on the task's
// probe set (addition: all 100 one-digit sums, most of them also trained on), so an overall figure
// cannot hide a layout or a kind of prompt the model gets wrong.
// Deliberately not here: which prompts are held out (train/tasks.ts), the sampler (sample/).
import type { LLaDAModel } from '../model/llada.ts';
import type { Tokenizer } from '../model/tokenizer.ts';
import { exactMatch, type ExactMatchResult } from '../sample/exact-match.ts';
import { checkTaskAnswer, oneDigitAdditionPrompts, taskStratum, type TaskName } from '../train/tasks.ts';

export interface Score {
  accuracy: number;
  correct: number;
  total: number;
}

export interface LayoutScore {
  /** Generated positions after the prompt (block length and steps equal it); null = seq_length - prompt. */
  gen_length: number | null;
  heldout: Score;
  strata: Record<string, Score>;
  probes: Record<string, Score>;
  nfe: number;
  seconds: number;
  /** Up to 5 wrong held-out answers, "prompt" + output. */
  wrong: string[];
}

const score = (correct: number, total: number): Score => ({
  accuracy: total ? correct / total : 0,
  correct,
  total,
});

/** Per-stratum scores of exact-match examples, strata in sorted order. */
export function byStratum(task: TaskName, examples: ExactMatchResult['examples']): Record<string, Score> {
  const acc = new Map<string, [number, number]>();
  for (const e of examples) {
    const k = taskStratum(task, e.prompt);
    const c = acc.get(k) ?? [0, 0];
    acc.set(k, [c[0] + (e.ok ? 1 : 0), c[1] + 1]);
  }
  const keys = [...acc.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return Object.fromEntries(keys.map((k) => [k, score(...acc.get(k)!)]));
}

export function taskProbes(task: TaskName): Record<string, string[]> {
  return task === 'addition' ? { 'one-digit sums (all 100)': oneDigitAdditionPrompts() } : {};
}

/** Scores `heldout` (and the task's probes) at each layout: a gen length, or null for T - prompt. */
export async function scoreTask(
  model: LLaDAModel,
  tok: Tokenizer,
  task: TaskName,
  heldout: string[],
  layouts: readonly (number | null)[],
  seqLength: number,
): Promise<LayoutScore[]> {
  const check = (p: string, out: string) => checkTaskAnswer(task, p, out);
  const out: LayoutScore[] = [];
  for (const G of layouts) {
    const opts = G === null ? { seqLength } : { genLength: G };
    const em = await exactMatch(model, tok, heldout, check, opts);
    const probes: Record<string, Score> = {};
    let nfe = em.nfe,
      seconds = em.seconds;
    for (const [name, prompts] of Object.entries(taskProbes(task))) {
      const r = await exactMatch(model, tok, prompts, check, opts);
      probes[name] = score(r.correct, r.total);
      nfe += r.nfe;
      seconds += r.seconds;
    }
    out.push({
      gen_length: G,
      heldout: score(em.correct, em.total),
      strata: byStratum(task, em.examples),
      probes,
      nfe,
      seconds,
      wrong: em.examples
        .filter((e) => !e.ok)
        .slice(0, 5)
        .map((e) => `${e.prompt}${e.output}`),
    });
  }
  return out;
}

const pct = (s: Score) => `${(s.accuracy * 100).toFixed(1)}% (${s.correct}/${s.total})`;

/** One result line per layout: "gen 4 (block 4, steps 4): held-out 99.0% (495/500) | 1+1 95.0% (19/20) | ...". */
export function formatLayoutScore(task: TaskName, s: LayoutScore): string {
  const where = s.gen_length === null ? 'training layout (gen = seq_length - prompt)' : `gen ${s.gen_length}`;
  const how = s.gen_length === null ? '' : ` (block ${s.gen_length}, steps ${s.gen_length})`;
  const parts = [`${task} ${where}${how}: held-out ${pct(s.heldout)}`];
  for (const [k, v] of Object.entries(s.strata)) parts.push(`${k} ${pct(v)}`);
  for (const [k, v] of Object.entries(s.probes)) parts.push(`${k} ${pct(v)}`);
  return parts.join(' | ');
}
