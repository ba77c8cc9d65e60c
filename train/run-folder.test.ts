// Run-folder rules without a GPU: what opening a folder decides (fresh, continue, complete, refuse),
// the lock (held, stale, live, foreign), resume key checks, and that only a run's own files are
// ever deleted. Checkpoints here are stand-ins written through commitCheckpoint.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../engine/errors.ts';
import { DEFAULT_CONFIG_TOML, loadTrainConfig, resolvedConfigToToml, type TrainConfig } from './config.ts';
import { cleanStaleTemps, commitCheckpoint } from './checkpoint-dir.ts';
import { LOCK_FILE, openRunFolder, RUN_MARKER, type RunFolder } from './run-folder.ts';
import { acquireRunLock } from './run-lock.ts';

const fresh = () => mkdtempSync(join(tmpdir(), 'dllm-runfolder-'));
const cfgOf = (...sets: string[]) => loadTrainConfig(DEFAULT_CONFIG_TOML, '<embedded default>', sets);
const logs: string[] = [];
const log = (l: string) => logs.push(l);

function open(dir: string, cfg: TrainConfig, o: { overwrite?: boolean } = {}): RunFolder {
  return openRunFolder(cfg, { out: dir, overwrite: o.overwrite, log });
}

function refused(fn: () => unknown, re: RegExp): string {
  try {
    fn();
  } catch (e) {
    assert.instance(e, UserError, String(e));
    assert.match((e as Error).message, re);
    return (e as Error).message;
  }
  assert.unreachable(`expected a UserError matching ${re}`);
  return '';
}

/** A finished-looking run: config.toml, metrics, and checkpoints carrying their config. */
async function fakeRun(dir: string, cfg: TrainConfig, steps: number[], done = false): Promise<void> {
  const f = open(dir, cfg);
  const toml = resolvedConfigToToml(cfg);
  writeFileSync(join(dir, 'config.toml'), toml);
  writeFileSync(join(dir, 'metrics.jsonl'), '');
  for (const s of steps) await commitCheckpoint(dir, s, (tmp) => writeFileSync(join(tmp, 'config.toml'), toml));
  if (done) writeFileSync(join(dir, 'summary.json'), JSON.stringify({ steps: steps.at(-1) }));
  f.release();
}

test('a new folder gets the marker and the lock, released at the end', () => {
  const dir = join(fresh(), 'a', 'run');
  const f = open(dir, cfgOf());
  assert.equal(f.plan, { kind: 'fresh' });
  assert.ok(existsSync(join(dir, RUN_MARKER)));
  assert.ok(existsSync(join(dir, LOCK_FILE)));
  f.release();
  assert.not.ok(existsSync(join(dir, LOCK_FILE)));
});

test('a second open of a held folder is refused, naming the holder', () => {
  const dir = fresh();
  const f = open(dir, cfgOf());
  refused(() => open(dir, cfgOf()), new RegExp(`in use by another training run \\(pid ${process.pid}`));
  f.release();
  open(dir, cfgOf()).release();
});

test('a lock left by a dead process is reported and taken over; a live or foreign one is refused', () => {
  const dir = fresh();
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  const lock = (pid: number, host = hostname()) =>
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid, host, started: '2020-01-01T00:00:00Z' }));
  lock(dead);
  logs.length = 0;
  acquireRunLock(dir, log).release();
  assert.match(logs.join('\n'), new RegExp(`pid ${dead} .*no longer running; taking over`));

  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)']);
  try {
    lock(child.pid!);
    refused(() => acquireRunLock(dir, log), new RegExp(`in use by another training run \\(pid ${child.pid}`));
  } finally {
    child.kill();
  }
  lock(dead, 'some-other-host');
  refused(() => acquireRunLock(dir, log), /locked by a run on another host .*delete .*\.dllm-wgpu\.lock/);
  writeFileSync(join(dir, LOCK_FILE), '');
  refused(() => acquireRunLock(dir, log), /lock file that cannot be read/);
});

test('a folder that is not a run, or a file, is refused and left untouched', () => {
  const dir = fresh();
  writeFileSync(join(dir, 'notes.txt'), 'mine');
  writeFileSync(join(dir, '.tmp-mine'), 'mine too');
  refused(() => open(dir, cfgOf()), /not empty and is not a dllm-wgpu run folder/);
  assert.equal(readdirSync(dir).sort(), ['.tmp-mine', 'notes.txt']);
  const file = join(dir, 'notes.txt');
  refused(() => open(file, cfgOf()), /is a file, not a folder/);
});

test('the same config continues from the newest checkpoint, or reports the run complete', async () => {
  const dir = fresh();
  const cfg = cfgOf();
  await fakeRun(dir, cfg, [4, 8]);
  let f = open(dir, cfgOf());
  assert.is(f.plan.kind, 'resume');
  assert.is(f.plan.kind === 'resume' && f.plan.from.step, 8);
  f.release();
  writeFileSync(join(dir, 'summary.json'), JSON.stringify({ steps: 8, accuracy: { addition: 0.5 } }));
  f = open(dir, cfgOf());
  assert.equal(f.plan, { kind: 'complete', summary: { steps: 8, accuracy: { addition: 0.5 } } });
  f.release();
});

test('a different config is refused with the differing keys; --resume allows only resumable keys', async () => {
  const dir = fresh();
  await fakeRun(dir, cfgOf('step_scheduler.max_steps=60'), [50, 55, 60]);
  const msg = refused(() => open(dir, cfgOf('step_scheduler.max_steps=20')), /holds a run with another config/);
  assert.match(msg, /step_scheduler\.max_steps 60 -> 20/);
  assert.equal(
    readdirSync(dir).filter((n) => n.startsWith('step-')),
    ['step-000050', 'step-000055', 'step-000060'],
  );
  const f = open(dir, cfgOf('step_scheduler.max_steps=80', 'resume="auto"'));
  assert.equal(f.plan.kind === 'resume' && [f.plan.from.step, f.plan.changed], [60, ['step_scheduler.max_steps']]);
  f.release();
  const bad = refused(
    () => open(dir, cfgOf('seed=1', 'model.d_model=32', 'resume="auto"')),
    /cannot resume from .*step-000060: its config differs in keys that must not change on resume/,
  );
  assert.match(bad, /model\.d_model 64 -> 32/);
  assert.match(bad, /seed 42 -> 1/);
});

test('--overwrite deletes only the files a run names; --overwrite with --resume is refused', async () => {
  const dir = fresh();
  await fakeRun(dir, cfgOf(), [4], true);
  mkdirSync(join(dir, '.tmp-step-000008'));
  writeFileSync(join(dir, 'loss.svg'), '<svg/>');
  writeFileSync(join(dir, '.loss.svg.tmp-123-abc'), 'torn');
  writeFileSync(join(dir, 'notes.txt'), 'mine');
  writeFileSync(join(dir, '.tmp-mine'), 'mine');
  refused(() => open(dir, cfgOf('resume="auto"'), { overwrite: true }), /give one of them/);
  const f = open(dir, cfgOf('seed=7'), { overwrite: true });
  assert.equal(f.plan, { kind: 'fresh' });
  f.release();
  assert.equal(readdirSync(dir).sort(), ['.dllm-wgpu-run', '.tmp-mine', 'notes.txt']);
});

test('a folder from before the marker (config.toml + metrics.jsonl) counts as a run', () => {
  const dir = fresh();
  writeFileSync(join(dir, 'config.toml'), resolvedConfigToToml(cfgOf('seed=3')));
  writeFileSync(join(dir, 'metrics.jsonl'), '');
  refused(() => open(dir, cfgOf()), /seed 3 -> 42/);
  assert.ok(existsSync(join(dir, RUN_MARKER)), 'adopted: the marker is written');
});

test('stale checkpoint temps are cleaned, other dot-tmp entries are not', () => {
  const dir = fresh();
  mkdirSync(join(dir, '.tmp-step-000050'));
  mkdirSync(join(dir, '.tmp-old-step-000040'));
  writeFileSync(join(dir, '.tmp-notes'), 'mine');
  assert.equal(cleanStaleTemps(dir).length, 2);
  assert.equal(readdirSync(dir), ['.tmp-notes']);
});

test('name ".." is refused', () => {
  refused(() => cfgOf('name=".."'), /name "\.\." names a folder/);
});

test.run();
