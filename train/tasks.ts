// Builtin, exactly checkable tasks for tiny runs: addition of two numbers of 1-2 digits
// ("37+48=" -> "85"), sorting 3-8 single digits ("5391=" -> "1359") and reversing 2-4 digits
// ("1234=" -> "4321"). Compact formats without spaces so a character tokenizer sees one token per
// digit. Reverse is written only in the default addition model's characters (0-9, =): a LoRA adapter
// on that model's frozen embedding can learn it, where a new symbol would need a new embedding row.
// Every generator is a pure function of its options (draws come from the Philox reference, stream
// tag taskSplit), and the held-out split never overlaps the training split: addition and reverse
// enumerate their whole prompt space and hold out a seeded subset stratified by digit counts
// (addition: operands 1+1, 1+2, 2+1, 2+2; reverse: 2, 3, 4 digits) so each stratum is measured;
// sort draws its held-out prompts first and rejects them when generating training ones. Their
// training splits can repeat the rarer strata so each is seen about as often (balanceStrata).
// Deliberately no tokenisation here (train/data.ts does that) and no sampling (sample/ scores).
import { UserError } from '../engine/errors.ts';
import { STREAM_TAG, philoxPermutation, philoxU32, streamOf, u32Below } from '../kernels/rng/philox.ts';
import { TASK_NAMES, type TaskName } from './task-names.ts';

export interface Example {
  prompt: string;
  response: string;
}

export type TaskSplit = 'train' | 'heldout';
export { TASK_NAMES, type TaskName };

export interface TaskOptions {
  task: TaskName;
  split: TaskSplit;
  /** Seeds the held-out selection; train and held-out must use the same value to stay disjoint. */
  splitSeed: number;
  /** Held-out prompts (addition: taken out of the 10,000, reverse: of the 11,100; sort: drawn first). */
  nHeldout: number;
  /** Training examples; 0 = every non-held-out prompt for addition and reverse, 20,000 for sort. */
  nExamples: number;
  /** Addition and reverse training splits: repeat the rarer strata (see balanceStrata). */
  balanceStrata?: boolean;
}

/**
 * Generation lengths a task's held-out accuracy is measured at when training varies the gen length
 * (dataset.gen_length). Addition: 4 = the README's `sample --gen-length 4 --block-length 4
 * --steps 4` (the headline figure), 8 and 16; sort: 9 = the longest answer + EOS, and 16; reverse:
 * as addition (its longest answer, 4 digits, fills gen length 4 exactly).
 */
export const TASK_EVAL_GEN_LENGTHS: Record<TaskName, readonly number[]> = {
  addition: [4, 8, 16],
  sort: [9, 16],
  reverse: [4, 8, 16],
};

export const ADDITION_MAX_OPERAND = 99;
export const SORT_MIN_LEN = 3;
export const SORT_MAX_LEN = 8;
/** Reverse prompts have 2-4 digits: the longest prompt (5) and answer fit the default rows (seq_length 22). */
export const REVERSE_MIN_LEN = 2;
export const REVERSE_MAX_LEN = 4;
const SORT_DEFAULT_TRAIN = 20_000;

export function additionExample(a: number, b: number): Example {
  return { prompt: `${a}+${b}=`, response: String(a + b) };
}

export function sortExample(digits: readonly number[]): Example {
  const sorted = [...digits].sort((x, y) => x - y);
  return { prompt: `${digits.join('')}=`, response: sorted.join('') };
}

/** A seeded permutation of 0..n-1 (one Philox stream part). */
function seededPermutation(n: number, seed: number, part: number): Uint32Array {
  return philoxPermutation(n, seed, streamOf(STREAM_TAG.taskSplit, part, 0));
}

/** Operand-digit stratum of an addition pair: "1+1", "1+2", "2+1" or "2+2". */
export function additionStratum(a: number, b: number): string {
  return `${a < 10 ? 1 : 2}+${b < 10 ? 1 : 2}`;
}

export const ADDITION_STRATA = ['1+1', '1+2', '2+1', '2+2'] as const;
/** No stratum gives more than this share of its prompts to the held-out split while another still can. */
const HELDOUT_STRATUM_SHARE = 1 / 5;

/**
 * Water-filling: `n` items spread as evenly as possible over bins with the given capacities (the
 * smallest bins fill first and their leftover share goes to the others).
 */
export function spreadEvenly(n: number, capacity: readonly number[]): number[] {
  const out = capacity.map(() => 0);
  const order = capacity.map((_, i) => i).sort((x, y) => capacity[x] - capacity[y] || x - y);
  let left = n;
  order.forEach((i, k) => {
    const share = Math.ceil(left / (order.length - k));
    out[i] = Math.min(capacity[i], share);
    left -= out[i];
  });
  return out;
}

/**
 * Held-out prompts per stratum: an equal share each, at most a fifth of a stratum (one-digit pairs
 * are 100 of the 10,000: held out uniformly at random, 500 prompts would hold out about 5 of them,
 * too few to measure, and an accuracy over all prompts would hide them); past that, the rest spread
 * the same way over what the strata have left.
 */
export function stratifiedHeldoutCounts(nHeldout: number, sizes: readonly number[]): number[] {
  const first = spreadEvenly(
    nHeldout,
    sizes.map((n) => Math.floor(n * HELDOUT_STRATUM_SHARE)),
  );
  const rest = nHeldout - first.reduce((a, b) => a + b, 0);
  const second = spreadEvenly(
    rest,
    sizes.map((n, i) => n - first[i]),
  );
  return first.map((k, i) => k + second[i]);
}

const ADDITION_STRATUM_SIZES = ADDITION_STRATA.map((s) => (s[0] === '1' ? 10 : 90) * (s[2] === '1' ? 10 : 90));

export function additionHeldoutCounts(nHeldout: number): number[] {
  return stratifiedHeldoutCounts(nHeldout, ADDITION_STRATUM_SIZES);
}

/** A task whose every prompt is an integer id in [0, size): the split draws ids, not strings. */
interface EnumeratedTask {
  name: TaskName;
  strataSizes: readonly number[]; // ids of stratum s are contiguous after those of strata < s (sizes sum to the space)
  stratumOf: (k: number) => number;
  example: (k: number) => Example;
  part: number; // Philox stream part of the task's permutation
}

const ADDITION_TASK: EnumeratedTask = {
  name: 'addition',
  strataSizes: ADDITION_STRATUM_SIZES,
  stratumOf: (k) => (k < 1000 ? 0 : 2) + (k % 100 < 10 ? 0 : 1), // k = 100 a + b; index into ADDITION_STRATA
  example: (k) => additionExample(Math.floor(k / 100), k % 100),
  part: 0,
};

/** Reverse prompts by digit count: 10^2 two-digit strings (leading zeros included), then 10^3, 10^4. */
const REVERSE_STRATUM_SIZES = Array.from(
  { length: REVERSE_MAX_LEN - REVERSE_MIN_LEN + 1 },
  (_, i) => 10 ** (REVERSE_MIN_LEN + i),
);

export function reverseExample(digits: string): Example {
  return { prompt: `${digits}=`, response: [...digits].reverse().join('') };
}

/** Reverse prompt id -> [stratum, index inside it]. */
function reverseLocate(k: number): [number, number] {
  let s = 0;
  while (k >= REVERSE_STRATUM_SIZES[s]) k -= REVERSE_STRATUM_SIZES[s++];
  return [s, k];
}

const REVERSE_TASK: EnumeratedTask = {
  name: 'reverse',
  strataSizes: REVERSE_STRATUM_SIZES,
  stratumOf: (k) => reverseLocate(k)[0],
  example: (k) => {
    const [s, i] = reverseLocate(k);
    return reverseExample(String(i).padStart(REVERSE_MIN_LEN + s, '0'));
  },
  part: 2,
};

function enumeratedSplit(t: EnumeratedTask, o: TaskOptions): Example[] {
  const space = t.strataSizes.reduce((a, b) => a + b, 0);
  if (o.nHeldout >= space) {
    throw new UserError(`${t.name}: n_heldout ${o.nHeldout} leaves no training prompts (there are ${space})`);
  }
  // One seeded permutation of all prompts; each stratum holds out its first prompts in that order,
  // and both splits keep the permutation's order (so any prefix of the held-out list mixes strata).
  const perm = seededPermutation(space, o.splitSeed, t.part);
  const quota = stratifiedHeldoutCounts(o.nHeldout, t.strataSizes);
  const heldout: number[] = [];
  const train: number[] = [];
  for (const k of perm) {
    const s = t.stratumOf(k);
    if (quota[s] > 0) {
      quota[s]--;
      heldout.push(k);
    } else train.push(k);
  }
  const ids = o.split === 'heldout' ? heldout : train;
  if (o.split === 'train' && o.nExamples > ids.length) {
    throw new UserError(
      `${t.name}: n_examples ${o.nExamples} exceeds the ${ids.length} prompts outside the held-out set`,
    );
  }
  const take = o.split === 'train' && o.nExamples > 0 ? ids.slice(0, o.nExamples) : ids;
  const rows = o.split === 'train' && o.balanceStrata ? balanceStrata(take, t.stratumOf) : take;
  return rows.map(t.example);
}

/**
 * Repeats each stratum's prompts round(largest / its count) times, so every stratum gets a
 * comparable share of the training rows. Without it 2+2 pairs are 85% of the addition rows, and a
 * model trained on random gen lengths learns where 2+2 prompts put their digits and fails prompts
 * whose second operand has one digit (1+1, 2+1), which put the first operand's units one place
 * closer to '='. The data order shuffles the copies apart; held-out prompts are never repeated in.
 */
export function balanceStrata(ids: readonly number[], stratumOf: (k: number) => number): number[] {
  const count = new Map<number, number>();
  for (const k of ids) count.set(stratumOf(k), (count.get(stratumOf(k)) ?? 0) + 1);
  const largest = Math.max(...count.values());
  const out: number[] = [];
  const maxCopies = Math.max(...[...count.values()].map((n) => Math.round(largest / n)));
  for (let copy = 0; copy < maxCopies; copy++) {
    for (const k of ids) if (copy < Math.round(largest / count.get(stratumOf(k))!)) out.push(k);
  }
  return out;
}

/** Draws sort examples from one stream part; `reject` filters prompts that may not appear. */
function drawSortExamples(seed: number, part: number, count: number, reject: (p: string) => boolean): Example[] {
  const out: Example[] = [];
  const chunk = 4096;
  let buf = philoxU32(seed, streamOf(STREAM_TAG.taskSplit, part, 0), chunk, 0);
  let offset = 0;
  let used = 0;
  const next = (): number => {
    if (used === chunk) {
      offset += chunk;
      buf = philoxU32(seed, streamOf(STREAM_TAG.taskSplit, part, 0), chunk, offset);
      used = 0;
    }
    return buf[used++];
  };
  let attempts = 0;
  while (out.length < count) {
    if (++attempts > count * 100 + 10_000) throw new UserError(`sort: cannot draw ${count} examples (space exhausted)`);
    const len = SORT_MIN_LEN + u32Below(next(), SORT_MAX_LEN - SORT_MIN_LEN + 1);
    const digits: number[] = [];
    for (let i = 0; i < len; i++) digits.push(u32Below(next(), 10));
    const ex = sortExample(digits);
    if (!reject(ex.prompt)) out.push(ex);
  }
  return out;
}

function sortSplit(o: TaskOptions): Example[] {
  const heldSeen = new Set<string>();
  // held-out prompts are distinct among themselves so its accuracy is over nHeldout different prompts
  const held = drawSortExamples(o.splitSeed, 1, o.nHeldout, (p) => {
    if (heldSeen.has(p)) return true;
    heldSeen.add(p);
    return false;
  });
  if (o.split === 'heldout') return held;
  const n = o.nExamples > 0 ? o.nExamples : SORT_DEFAULT_TRAIN;
  return drawSortExamples(o.splitSeed, 0, n, (p) => heldSeen.has(p));
}

/** The examples of one split of a builtin task. Deterministic in its options. */
export function taskExamples(o: TaskOptions): Example[] {
  if (!Number.isSafeInteger(o.splitSeed) || o.splitSeed < 0) throw new UserError(`split_seed must be an integer >= 0`);
  if (!Number.isInteger(o.nHeldout) || o.nHeldout < 1) throw new UserError(`n_heldout must be an integer >= 1`);
  if (!Number.isInteger(o.nExamples) || o.nExamples < 0) throw new UserError(`n_examples must be an integer >= 0`);
  if (o.task === 'sort') return sortSplit(o);
  return enumeratedSplit(o.task === 'addition' ? ADDITION_TASK : REVERSE_TASK, o);
}

/**
 * The stratum a prompt is reported under: addition by operand digits ("1+2"), sort and reverse by
 * digit count ("6 digits"). Accuracy per stratum shows what an overall figure averages away.
 */
export function taskStratum(task: TaskName, prompt: string): string {
  if (task === 'addition') {
    const m = /^(\d{1,2})\+(\d{1,2})=$/.exec(prompt);
    if (!m) throw new UserError(`not an addition prompt: ${JSON.stringify(prompt)}`);
    return `${m[1].length}+${m[2].length}`;
  }
  return `${prompt.length - 1} digits`;
}

/** Every one-digit addition prompt, "0+0=" to "9+9=" (100, held-out or not): the short-prompt probe. */
export function oneDigitAdditionPrompts(): string[] {
  const out: string[] = [];
  for (let a = 0; a < 10; a++) for (let b = 0; b < 10; b++) out.push(additionExample(a, b).prompt);
  return out;
}

/** Whether `response` is exactly the right answer to a builtin task prompt (surrounding spaces ignored). */
export function checkTaskAnswer(task: TaskName, prompt: string, response: string): boolean {
  const got = response.trim();
  if (task === 'addition') {
    const m = /^(\d{1,2})\+(\d{1,2})=$/.exec(prompt);
    if (!m) throw new UserError(`not an addition prompt: ${JSON.stringify(prompt)}`);
    return got === String(Number(m[1]) + Number(m[2]));
  }
  const m = /^(\d+)=$/.exec(prompt);
  if (!m) throw new UserError(`not a ${task} prompt: ${JSON.stringify(prompt)}`);
  return got === (task === 'sort' ? sortExample(Array.from(m[1], Number)) : reverseExample(m[1])).response;
}
