// Tests for run-folder checkpoint bookkeeping: atomic commit, incomplete and stale folders ignored,
// pruning keeps the newest, re-saving a step replaces it, and resume resolution.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../engine/errors.ts';
import {
  checkpointName,
  cleanStaleTemps,
  commitCheckpoint,
  listCheckpoints,
  newestCheckpoint,
  pruneCheckpoints,
  resolveResume,
} from './checkpoint-dir.ts';

const fresh = () => mkdtempSync(join(tmpdir(), 'dllm-ckpt-'));
const save = (run: string, step: number, body = `w${step}`) =>
  commitCheckpoint(run, step, (tmp) => writeFileSync(join(tmp, 'model.bin'), body));

test('names are zero-padded and sort by step', () => {
  assert.is(checkpointName(120), 'step-000120');
  assert.is(checkpointName(1234567), 'step-1234567');
  assert.throws(() => checkpointName(-1));
});

test('commit writes into a temp folder, seals it with COMPLETE and renames it into place', async () => {
  const run = fresh();
  let sawTmp = '';
  const path = await commitCheckpoint(run, 120, (tmp) => {
    sawTmp = tmp;
    assert.ok(tmp.endsWith('.tmp-step-000120'));
    assert.equal(listCheckpoints(run), []); // not visible while being written
    writeFileSync(join(tmp, 'model.bin'), 'x');
  });
  assert.is(path, join(run, 'step-000120'));
  assert.ok(!existsSync(sawTmp));
  assert.equal(readdirSync(path).sort(), ['COMPLETE', 'model.bin']);
  assert.equal(listCheckpoints(run), [{ step: 120, path }]);
});

test('a failing writer leaves no checkpoint and no temp folder', async () => {
  const run = fresh();
  await save(run, 10);
  try {
    await commitCheckpoint(run, 20, () => {
      throw new Error('disk full');
    });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /disk full/);
  }
  assert.equal(
    listCheckpoints(run).map((c) => c.step),
    [10],
  );
  assert.equal(readdirSync(run), ['step-000010']);
});

test('incomplete and stale folders are ignored, and stale temps cleaned', async () => {
  const run = fresh();
  await save(run, 5);
  await save(run, 30);
  mkdirSync(join(run, 'step-000040')); // crashed before COMPLETE (should not happen with commit, but may be copied)
  mkdirSync(join(run, '.tmp-step-000050'));
  writeFileSync(join(run, 'metrics.jsonl'), '');
  assert.equal(
    listCheckpoints(run).map((c) => c.step),
    [5, 30],
  );
  assert.is(newestCheckpoint(run)?.step, 30);
  assert.equal(cleanStaleTemps(run), [join(run, '.tmp-step-000050')]);
  assert.ok(!existsSync(join(run, '.tmp-step-000050')));
  assert.is(newestCheckpoint(join(run, 'missing')), undefined);
});

test('prune keeps the newest keep_last; 0 keeps all', async () => {
  const run = fresh();
  for (const s of [100, 200, 300, 400]) await save(run, s);
  assert.equal(pruneCheckpoints(run, 0), []);
  assert.equal(pruneCheckpoints(run, 2), [join(run, 'step-000100'), join(run, 'step-000200')]);
  assert.equal(
    listCheckpoints(run).map((c) => c.step),
    [300, 400],
  );
});

test('re-saving a step replaces the old checkpoint', async () => {
  const run = fresh();
  await save(run, 7, 'old');
  await save(run, 7, 'new');
  assert.is(readFileSync(join(run, 'step-000007', 'model.bin'), 'utf8'), 'new');
  assert.equal(readdirSync(run), ['step-000007']);
});

test('resume: auto, false, an explicit path, and the errors', async () => {
  const run = fresh();
  assert.is(resolveResume('auto', run), undefined);
  await save(run, 3);
  await save(run, 9);
  assert.is(resolveResume('auto', run)?.step, 9);
  assert.is(resolveResume(false, run), undefined);
  assert.equal(resolveResume(join(run, 'step-000003'), run), { step: 3, path: join(run, 'step-000003') });
  const expectUser = (fn: () => unknown, re: RegExp) => {
    try {
      fn();
      assert.unreachable();
    } catch (e) {
      assert.instance(e, UserError);
      assert.match((e as Error).message, re);
    }
  };
  expectUser(() => resolveResume(join(run, 'step-000004'), run), /not found/);
  mkdirSync(join(run, 'step-000011'));
  expectUser(() => resolveResume(join(run, 'step-000011'), run), /not a complete checkpoint/);
});

test.run();
