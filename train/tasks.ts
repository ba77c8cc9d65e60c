// Builtin, exactly checkable tasks for tiny from-scratch runs: addition of two numbers of 1-2 digits
// ("37+48=" -> "85") and sorting 3-8 single digits ("5391=" -> "1359"). Compact formats without
// spaces so a character tokenizer sees one token per digit. Every generator is a pure function of
// its options (draws come from the Philox reference, stream tag taskSplit), and the held-out split
// never overlaps the training split: addition holds out a seeded subset of the 10,000 possible
// prompts; sort draws its held-out prompts first and rejects them when generating training ones.
// Deliberately no tokenisation here (train/data.ts does that) and no sampling (sample/ scores).
import { UserError } from '../engine/errors.ts';
import { STREAM_TAG, philoxPermutation, philoxU32, streamOf, u32Below } from '../kernels/rng/philox.ts';

export interface Example {
  prompt: string;
  response: string;
}

export type TaskName = 'addition' | 'sort';
export type TaskSplit = 'train' | 'heldout';
export const TASK_NAMES: readonly TaskName[] = ['addition', 'sort'];

export interface TaskOptions {
  task: TaskName;
  split: TaskSplit;
  /** Seeds the held-out selection; train and held-out must use the same value to stay disjoint. */
  splitSeed: number;
  /** Held-out prompts (addition: taken out of the 10,000; sort: drawn first). */
  nHeldout: number;
  /** Training examples; 0 = every non-held-out prompt for addition, 20,000 for sort. */
  nExamples: number;
}

export const ADDITION_MAX_OPERAND = 99;
export const SORT_MIN_LEN = 3;
export const SORT_MAX_LEN = 8;
const ADDITION_SPACE = (ADDITION_MAX_OPERAND + 1) ** 2;
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

function additionSplit(o: TaskOptions): Example[] {
  if (o.nHeldout >= ADDITION_SPACE) {
    throw new UserError(`addition: n_heldout ${o.nHeldout} leaves no training prompts (there are ${ADDITION_SPACE})`);
  }
  const perm = seededPermutation(ADDITION_SPACE, o.splitSeed, 0);
  const ids = o.split === 'heldout' ? perm.subarray(0, o.nHeldout) : perm.subarray(o.nHeldout);
  if (o.split === 'train' && o.nExamples > ids.length) {
    throw new UserError(
      `addition: n_examples ${o.nExamples} exceeds the ${ids.length} prompts outside the held-out set`,
    );
  }
  const take = o.split === 'train' && o.nExamples > 0 ? ids.subarray(0, o.nExamples) : ids;
  return Array.from(take, (k) => additionExample(Math.floor(k / 100), k % 100));
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
  return o.task === 'addition' ? additionSplit(o) : sortSplit(o);
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
  if (!m) throw new UserError(`not a sort prompt: ${JSON.stringify(prompt)}`);
  return got === sortExample(Array.from(m[1], Number)).response;
}
