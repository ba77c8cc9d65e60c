// Shared helpers for model/ tests: fast-check options that honour FC_SEED / FC_PATH, a scratch
// directory removed at exit, and assertions that an error is a UserError mentioning given text.
// Deliberately not here: fixtures specific to one test file.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { UserError } from '../engine/errors.ts';

export function fcOptions(numRuns: number): { seed?: number; path?: string; numRuns: number } {
  const o: { seed?: number; path?: string; numRuns: number } = { numRuns };
  if (process.env.FC_SEED) o.seed = Number(process.env.FC_SEED);
  if (process.env.FC_PATH) o.path = process.env.FC_PATH;
  return o;
}

const dirs: string[] = [];
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

export function scratchDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `dllm-${tag}-`));
  dirs.push(d);
  return d;
}

function checkUserError(e: unknown, needles: readonly string[]): UserError {
  if (!(e instanceof UserError))
    throw new assert.Assertion({
      message: `expected a UserError, got ${String(e)}`,
      operator: 'userError',
      expects: 'UserError',
      actual: e,
    });
  for (const n of needles)
    assert.ok(e.message.includes(n), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(n)}`);
  return e;
}

/** `fn` must throw a UserError whose message contains every needle. */
export function expectUserError(fn: () => unknown, ...needles: string[]): UserError {
  try {
    fn();
  } catch (e) {
    return checkUserError(e, needles);
  }
  throw new assert.Assertion({
    message: 'expected a UserError, nothing was thrown',
    operator: 'userError',
    expects: 'UserError',
    actual: undefined,
  });
}

export async function expectUserErrorAsync(fn: () => Promise<unknown>, ...needles: string[]): Promise<UserError> {
  try {
    await fn();
  } catch (e) {
    return checkUserError(e, needles);
  }
  throw new assert.Assertion({
    message: 'expected a UserError, nothing was thrown',
    operator: 'userError',
    expects: 'UserError',
    actual: undefined,
  });
}
