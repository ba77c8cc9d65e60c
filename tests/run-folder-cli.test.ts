// Run folders through the CLI on a tiny model, in child processes: a second command on a finished
// run reports it complete, a different config is refused, two runs never share a folder, resume
// refuses a changed seed, Ctrl-C / SIGTERM save a checkpoint and exit 130 / 143 (a second Ctrl-C
// quits at once), failed writes (DLLM_WGPU_TEST_FAIL_WRITE) exit 1 and leave no temporary files,
// and fine-tuning with the char tokenizer saves self-consistent checkpoints.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpuDevice, closeDevice } from './gpu.ts';

const root = new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'run-folder-cli-'));
const BIN = join(root, 'bin/dev.js');
const sets = (kv: Record<string, string | number>) => Object.entries(kv).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
const TINY = [
  ...sets({
    'model.d_model': 16,
    'model.n_layers': 1,
    'model.n_heads': 2,
    'model.n_kv_heads': 2,
    'model.mlp_hidden_size': 24,
    'step_scheduler.global_batch_size': 8,
    'step_scheduler.local_batch_size': 4,
    'step_scheduler.max_steps': 8,
    'step_scheduler.ckpt_every_steps': 4,
    'step_scheduler.log_every_steps': 1,
    'step_scheduler.val_every_steps': 0,
    'checkpoint.keep_last': 0,
  }),
  '--no-eval',
];

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    cwd: tmp,
    timeout: 240_000,
  });
}

/** A user error: exit 1, a message matching `re`, no stack trace. */
function userError(r: ReturnType<typeof run>, re: RegExp, what: string): void {
  assert.is(r.status, 1, `${what}: should exit 1; stderr: ${r.stderr}`);
  assert.match(r.stderr, re, what);
  assert.not.match(r.stderr, /^\s+at /m, `${what}: no stack trace`);
}

const steps = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('step-'));
const temps = (dir: string) => readdirSync(dir).filter((n) => n.includes('.tmp-'));

/** A running `train`: its stderr so far, and a wait for a line or file to appear. */
function start(args: string[], env: Record<string, string> = {}) {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    cwd: tmp,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const until = async (ok: () => boolean, what: string) => {
    for (let i = 0; i < 6000 && !ok(); i++) {
      if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before ${what}: ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!ok()) throw new Error(`timed out waiting for ${what}: ${err}`);
  };
  return { child, exited, until, stderr: () => err };
}

test('the same command again reports a finished run; a different config is refused; resume refuses a new seed', async () => {
  if (!(await gpuDevice())) return;
  const dir = join(tmp, 'again');
  assert.is(run(['train', ...TINY, '--out', dir]).status, 0);
  const metrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8');
  const again = run(['train', ...TINY, '--out', dir, '--json']);
  assert.is(again.status, 0, again.stderr);
  assert.match(again.stderr, /this run is complete \(step 8\)/);
  assert.is((JSON.parse(again.stdout) as { steps: number }).steps, 8, 're-prints summary.json');
  assert.is(readFileSync(join(dir, 'metrics.jsonl'), 'utf8'), metrics, 'nothing retrained');
  const shorter = run(['train', ...TINY, ...sets({ 'step_scheduler.max_steps': 4 }), '--out', dir]);
  userError(shorter, /holds a run with another config \(step_scheduler\.max_steps 8 -> 4\)/, 'max_steps 4');
  assert.equal(steps(dir), ['step-000004', 'step-000008']);
  userError(
    run(['train', ...TINY, ...sets({ seed: 1 }), '--out', dir, '--resume']),
    /cannot resume from .*step-000008: .*seed 42 -> 1/,
    'resume with another seed',
  );
});

test('a second run on a folder in use is refused and the first finishes', async () => {
  if (!(await gpuDevice())) return;
  const dir = join(tmp, 'busy');
  const first = start(['train', ...TINY, '--out', dir], { DLLM_WGPU_TEST_CKPT_PAUSE_MS: '4000' });
  await first.until(() => existsSync(join(dir, '.tmp-step-000004', 'model.safetensors')), 'the first checkpoint');
  const second = run(['train', ...TINY, '--out', dir]);
  userError(second, new RegExp(`in use by another training run \\(pid ${first.child.pid} `), 'second run');
  assert.is(await first.exited, 0, first.stderr());
  assert.equal(steps(dir), ['step-000004', 'step-000008']);
});

test('Ctrl-C saves a checkpoint, exits 130, and the same command continues; SIGTERM exits 143', async () => {
  if (!(await gpuDevice())) return;
  const long = [...TINY, ...sets({ 'step_scheduler.max_steps': 30, 'step_scheduler.ckpt_every_steps': 0 })];
  const dir = join(tmp, 'sigint');
  const r = start(['train', ...long, '--out', dir]);
  await r.until(() => /^step 3\/30/m.test(r.stderr()), 'step 3');
  r.child.kill('SIGINT');
  assert.is(await r.exited, 130, r.stderr());
  const m = /interrupted by SIGINT after step (\d+)\/30: checkpoint (\S+);/.exec(r.stderr());
  assert.ok(m, r.stderr());
  assert.ok(existsSync(join(m[2], 'COMPLETE')), 'the checkpoint is complete');
  assert.not.ok(existsSync(join(dir, '.dllm-wgpu.lock')), 'lock released');
  const again = run(['train', ...long, '--out', dir]);
  assert.is(again.status, 0, again.stderr);
  assert.match(again.stderr, new RegExp(`resumed from .*step-${m[1].padStart(6, '0')} \\(step ${m[1]}\\)`));

  const dirT = join(tmp, 'sigterm');
  const t = start(['train', ...long, '--out', dirT]);
  await t.until(() => /^step 2\/30/m.test(t.stderr()), 'step 2');
  t.child.kill('SIGTERM');
  assert.is(await t.exited, 143, t.stderr());
  assert.match(t.stderr(), /interrupted by SIGTERM after step \d+\/30: checkpoint /);
});

test('a second Ctrl-C during the checkpoint quits at once, leaving no complete checkpoint', async () => {
  if (!(await gpuDevice())) return;
  const dir = join(tmp, 'twice');
  const long = [...TINY, ...sets({ 'step_scheduler.max_steps': 30, 'step_scheduler.ckpt_every_steps': 0 })];
  const r = start(['train', ...long, '--out', dir], { DLLM_WGPU_TEST_CKPT_PAUSE_MS: '20000' });
  await r.until(() => /^step 2\/30/m.test(r.stderr()), 'step 2');
  r.child.kill('SIGINT');
  await r.until(() => temps(dir).length > 0 && existsSync(join(dir, temps(dir)[0], 'model.safetensors')), 'the save');
  const t0 = Date.now();
  r.child.kill('SIGINT');
  assert.is(await r.exited, 130);
  assert.ok(Date.now() - t0 < 10_000, `quit at once, not after the 20 s save (${Date.now() - t0} ms)`);
  assert.equal(steps(dir), []);
  assert.not.ok(existsSync(join(dir, '.dllm-wgpu.lock')), 'lock released');
});

test('failed writes (disk full, read-only) exit 1 with one message and leave no temporary files', async () => {
  if (!(await gpuDevice())) return;
  const fail = (name: string, code = 'ENOSPC') => ({ DLLM_WGPU_TEST_FAIL_WRITE: `${name}:${code}` });
  const a = join(tmp, 'enospc-state');
  userError(
    run(['train', ...TINY, '--out', a], fail('trainer_state.json')),
    /cannot save the step 4 checkpoint .*no space left on device/,
    'trainer_state.json',
  );
  assert.equal(steps(a), []);
  assert.equal(temps(a), []);
  assert.not.ok(existsSync(join(a, '.dllm-wgpu.lock')), 'lock released');
  const b = join(tmp, 'enospc-svg');
  userError(run(['train', ...TINY, '--out', b], fail('loss.svg')), /loss\.svg: cannot write \(ENOSPC/, 'loss.svg');
  assert.equal(temps(b), []);
  const c = join(tmp, 'erofs');
  userError(run(['train', ...TINY, '--out', c], fail('.dllm-wgpu.lock', 'EROFS')), /read-only file system/, 'lock');
  assert.not.ok(existsSync(c), 'no folder left behind');
  writeFileSync(join(tmp, 'a-file'), '');
  userError(run(['train', ...TINY, '--out', join(tmp, 'a-file')]), /is a file, not a folder/, '--out a file');
  userError(run(['train', tmp]), /config file .* is a folder/, 'config path a folder');
});

test('bad flags and trainer state: exit 1 with a message; a UTF-8 byte-order mark is accepted', async () => {
  if (!(await gpuDevice())) return;
  const ck = join(tmp, 'again', 'step-000008');
  if (!existsSync(ck)) assert.is(run(['train', ...TINY, '--out', join(tmp, 'again')]).status, 0);
  const sample = ['sample', '--checkpoint', ck, '--gen-length', '2', '--block-length', '2'];
  const cases: [string[], RegExp][] = [
    [[...sample, '--prompt', '1+1=', '--seed', '-1'], /--seed.*>= 0/],
    [[...sample, '--prompt', '1+1=', '--seed', '1e20'], /--seed expects an integer, got "1e20"/],
    [['eval', '--checkpoint', ck, '--data', 'x.jsonl', '--mc-num', '-1'], /--mc-num expects an integer >= 0/],
    [['eval', '--checkpoint', ck, '--data', 'x.jsonl', '--max-examples', '-1'], /--max-examples .*>= 0/],
  ];
  for (const [args, re] of cases) userError(run(args), re, args.join(' '));
  for (const [field, value, re] of [
    ['step', '"abc"', /step must be an integer >= 0, got "abc"/],
    ['data_position', 'null', /data_position must be/],
  ] as const) {
    const bad = join(tmp, `bad-${field}`, 'step-000008');
    cpSync(ck, bad, { recursive: true });
    const p = join(bad, 'trainer_state.json');
    writeFileSync(
      p,
      JSON.stringify({ ...(JSON.parse(readFileSync(p, 'utf8')) as object), [field]: JSON.parse(value) as unknown }),
    );
    userError(run(['train', ...TINY, '--out', join(tmp, `bad-${field}-run`), '--set', `resume=${bad}`]), re, field);
  }
  const bom = join(tmp, 'bom.jsonl');
  writeFileSync(bom, '\uFEFF{"prompt": "1+2=", "response": "3"}\n');
  const ev = run(['eval', '--checkpoint', ck, '--data', bom, '--seq-length', '16', '--mc-num', '2', '--mc-batch', '2']);
  assert.is(ev.status, 0, ev.stderr);
});

test('fine-tuning a checkpoint without tokenizer.json with the char tokenizer saves that tokenizer and its ids', async () => {
  if (!(await gpuDevice())) return;
  const src = join(tmp, 'again', 'step-000008');
  if (!existsSync(src)) assert.is(run(['train', ...TINY, '--out', join(tmp, 'again')]).status, 0);
  const base = join(tmp, 'base');
  cpSync(src, base, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'COMPLETE']) rmSync(join(base, f), { force: true });
  const cfgPath = join(base, 'config.json');
  const trained = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, number>;
  writeFileSync(cfgPath, JSON.stringify({ ...trained, mask_token_id: 0, eos_token_id: 1, pad_token_id: 1 }));
  const dir = join(tmp, 'finetune');
  const small = TINY.filter((a, i) => !a.startsWith('model.') && !TINY[i + 1]?.startsWith('model.'));
  const r = run(['train', ...small, ...sets({ 'model.path': base, 'model.tokenizer': 'char' }), '--out', dir]);
  assert.is(r.status, 0, r.stderr);
  const out = join(dir, 'step-000008');
  assert.ok(existsSync(join(out, 'tokenizer.json')), 'the char tokenizer is saved');
  const saved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, number>;
  for (const k of ['mask_token_id', 'eos_token_id', 'pad_token_id']) assert.is(saved[k], trained[k], k);
});

test.after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await closeDevice();
});
test.run();
