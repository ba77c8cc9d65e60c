// Held-out exact match of a builtin task, after `train` and in `eval --task` (the CLI composes
// train/ and sample/, which never import each other): the held-out prompts are sampled greedily at
// each gen length the task is measured at (or, when training used fixed-length rows, in that one
// layout first), and accuracy is
// reported overall, per stratum (addition: operand digits 1+1, 1+2, 2+1, 2+2) and on the task's
// probe set (addition: all 100 one-digit sums, most of them also trained on), so an overall figure
// cannot hide a layout or a kind of prompt the model gets wrong.
// Deliberately not here: which prompts are held out (train/tasks.ts), the sampler (sample/).
import type { LLaDAModel } from '../model/llada.ts';
import type { Tokenizer } from '../model/tokenizer.ts';
import { exactMatch, type ExactMatchResult } from '../sample/exact-match.ts';
import { log } from './run.ts';
import {
  TASK_EVAL_GEN_LENGTHS,
  checkTaskAnswer,
  oneDigitAdditionPrompts,
  taskExamples,
  taskStratum,
  type TaskName,
} from '../train/tasks.ts';

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

/** What a task evaluation adds to summary.json (train) or prints as JSON (eval --task). */
export interface TaskEvalSummary {
  accuracy: Record<string, number>;
  eval: { correct: number; total: number; nfe: number; seconds: number; layouts: Omit<LayoutScore, 'wrong'>[] };
}

export interface TaskEvalOptions {
  /** The held-out split: the same split_seed and n_heldout as the training config's. */
  splitSeed: number;
  nHeldout: number;
  /** Score only the first N held-out prompts (0 = all). */
  limit: number;
  /** Row length of the training layout; set when training used fixed-length rows (scored first, as null). */
  trainingSeqLength?: number;
}

/**
 * Samples a builtin task's held-out prompts at each layout, prints one result line per layout and
 * a last line "accuracy <task> X%" (the first layout's held-out figure) to stdout, and returns the
 * figures. A few wrong answers per layout go to stderr.
 */
export async function evaluateTask(
  model: LLaDAModel,
  tok: Tokenizer,
  task: TaskName,
  o: TaskEvalOptions,
): Promise<TaskEvalSummary> {
  let prompts = taskExamples({
    task,
    split: 'heldout',
    splitSeed: o.splitSeed,
    nHeldout: o.nHeldout,
    nExamples: 0,
  }).map((e) => e.prompt);
  if (o.limit > 0) prompts = prompts.slice(0, o.limit);
  const fixed = o.trainingSeqLength !== undefined;
  // A model trained on one row layout is scored there first, then at the gen lengths a user
  // would sample with, so a layout it cannot answer in shows up in the report.
  const layouts = fixed ? [null, ...TASK_EVAL_GEN_LENGTHS[task]] : TASK_EVAL_GEN_LENGTHS[task];
  const at = `${fixed ? 'the training layout and ' : ''}gen lengths ${TASK_EVAL_GEN_LENGTHS[task].join(', ')}`;
  log(`sampling ${prompts.length} held-out ${task} prompts at ${at} (greedy, one token per step)...`);
  const scores = await scoreTask(model, tok, task, prompts, layouts, o.trainingSeqLength ?? 0);
  for (const s of scores) {
    if (s.wrong.length) log(`gen ${s.gen_length ?? 'T - prompt'}: e.g. wrong: ${s.wrong.join('  ')}`);
    process.stdout.write(formatLayoutScore(task, s) + '\n');
  }
  const head = scores[0];
  process.stdout.write(`accuracy ${task} ${(head.heldout.accuracy * 100).toFixed(1)}%\n`);
  return {
    accuracy: { [task]: head.heldout.accuracy },
    eval: {
      correct: head.heldout.correct,
      total: head.heldout.total,
      nfe: scores.reduce((n, s) => n + s.nfe, 0),
      seconds: scores.reduce((n, s) => n + s.seconds, 0),
      layouts: scores.map(({ wrong: _wrong, ...s }) => s),
    },
  };
}
