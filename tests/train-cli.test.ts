// End-to-end training through the CLI on a tiny model: resume after SIGKILL reproduces the
// uninterrupted run's losses, a SIGKILL during a checkpoint write leaves the previous checkpoint
// in charge, and bad inputs give clear errors with exit code 1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpuDevice, closeDevice } from './gpu.ts';

const root = new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'train-cli-'));
const BIN = join(root, 'bin/dev.js');
const TINY = [
  '--set',
  'model.d_model=16',
  '--set',
  'model.n_layers=1',
  '--set',
  'model.n_heads=2',
  '--set',
  'model.n_kv_heads=2',
  '--set',
  'model.mlp_hidden_size=24',
  '--set',
  'step_scheduler.global_batch_size=8',
  '--set',
  'step_scheduler.local_batch_size=4',
  '--set',
  'step_scheduler.max_steps=12',
  '--set',
  'step_scheduler.ckpt_every_steps=4',
  '--set',
  'step_scheduler.log_every_steps=1',
  '--set',
  'step_scheduler.val_every_steps=6',
  '--set',
  'checkpoint.keep_last=0',
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

function losses(dir: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const line of readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { event: string; step: number; loss: number };
    if (r.event === 'train') m.set(r.step, r.loss);
  }
  return m;
}

/** Start a run and SIGKILL it once `ready(dir)` holds; resolves when it is dead. */
function killWhen(args: string[], dir: string, ready: () => boolean, env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      cwd: tmp,
      stdio: 'ignore',
    });
    const timer = setInterval(() => {
      if (ready()) {
        clearInterval(timer);
        child.kill('SIGKILL');
      }
    }, 20);
    child.on('exit', (code, sig) => {
      clearInterval(timer);
      if (sig === 'SIGKILL') resolve();
      else reject(new Error(`run ended by itself (code ${code}) before it could be killed`));
    });
  });
}

test('a run killed after a checkpoint and resumed logs the same losses as an uninterrupted run', async () => {
  if (!(await gpuDevice())) return;
  const full = join(tmp, 'full');
  const r = run(['train', ...TINY, '--out', full]);
  assert.is(r.status, 0, r.stderr);
  const ref = losses(full);
  assert.is(ref.size, 12);
  const cut = join(tmp, 'cut');
  await killWhen(['train', ...TINY, '--out', cut], cut, () => existsSync(join(cut, 'step-000004', 'COMPLETE')));
  const r2 = run(['train', ...TINY, '--out', cut, '--resume']);
  assert.is(r2.status, 0, r2.stderr);
  assert.match(r2.stderr, /resumed from .*step-0000(04|08)/);
  const got = losses(cut);
  for (let s = 5; s <= 12; s++) {
    const a = got.get(s)!,
      b = ref.get(s)!;
    assert.ok(Math.abs(a - b) <= 1e-6 * Math.abs(b), `step ${s}: resumed loss ${a} vs uninterrupted ${b}`);
  }
});

test('SIGKILL during a checkpoint write leaves the previous checkpoint, and --resume uses it', async () => {
  if (!(await gpuDevice())) return;
  const dir = join(tmp, 'midwrite');
  await killWhen(
    ['train', ...TINY, '--out', dir],
    dir,
    () => existsSync(join(dir, '.tmp-step-000008', 'model.safetensors')),
    { DLLM_WGPU_TEST_CKPT_PAUSE_MS: '3000' },
  );
  assert.ok(existsSync(join(dir, 'step-000004', 'COMPLETE')), 'step 4 checkpoint complete');
  assert.not.ok(existsSync(join(dir, 'step-000008')), 'no step-8 checkpoint that looks complete');
  const r = run(['train', ...TINY, '--out', dir, '--resume']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /resumed from .*step-000004/);
  assert.ok(
    readdirSync(dir).every((n) => !n.startsWith('.tmp-')),
    'stale temporary folder removed',
  );
});

test('bad inputs: clear messages, exit code 1', async () => {
  if (!(await gpuDevice())) return;
  const cfg = (body: string) => {
    const p = join(tmp, `c${Math.random().toString(36).slice(2)}.toml`);
    writeFileSync(p, body);
    return p;
  };
  const cases: [string[], RegExp][] = [
    [['train', cfg('name = "x"\n[optimizer]\nlr = = 3\n')], /:3:\d+: TOML syntax error/],
    [['train', cfg('[optimizer]\nlrr = 3e-3\n')], /unknown key optimizer\.lrr \(did you mean optimizer\.lr\?\)/],
    [['train', cfg('[optimizer]\nlr = "fast"\n')], /optimizer\.lr.*number/],
    [['train', cfg('[dataset]\npath = "missing.jsonl"\n[validation_dataset]\n')], /missing\.jsonl/],
    [
      [
        'train',
        ...['--set', 'optimizer.lr=1e30', '--set', 'clip_grad_norm.max_norm=0', ...TINY.slice(0, -1)],
        ...['--out', join(tmp, 'nan')],
      ],
      /loss became (NaN|Infinity|-Infinity)/,
    ],
    [['sample', '--checkpoint', join(tmp, 'nope'), '--prompt', 'x'], /checkpoint folder not found/],
    [['train', 'nope.toml'], /config file not found: nope\.toml/],
    [
      ['train', '--set', 'dataset.seq_length=18', ...TINY, '--out', join(tmp, 'short')],
      /addition\/train: the longest prompt \(6 tokens\) \+ dataset\.gen_length max \(16\) exceeds seq_length 18; raise seq_length to 22/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    assert.is(r.status, 1, `${args.join(' ')} should exit 1; stderr: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.not.match(r.stderr, /^\s+at /m, 'no stack trace for user errors');
  }
});

test.after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await closeDevice();
});
test.run();
