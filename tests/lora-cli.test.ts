// LoRA end to end on a tiny from-scratch f32 base: the base stays frozen (no gradients, no moments,
// its bytes on disk and on the GPU unchanged), resume through the CLI is exact (adapter and moments
// bit for bit), `merge --dtype f32` gives the logits of base + adapter, and bad input (unknown
// target module, rank 0 or above the layer, an adapter for another base, a folder without
// adapter_config.json) stops with one line and exit code 1; a merge that fails writing leaves no
// half-written output folder.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { closeDevice, gpuDevice, seededFloats } from './gpu.ts';
import { createConfig, tokenizerConfigFields } from '../model/config.ts';
import { createModel, loadModel, saveModel } from '../model/io.ts';
import { buildCharTokenizer } from '../model/tokenizer.ts';
import { loadAdapter } from '../model/lora-io.ts';
import { mergeAdapter } from '../model/lora-merge.ts';
import { adapterConfigFor, writePeftAdapter } from '../model/peft.ts';
import { blockLinears } from '../model/lora-match.ts';
import { loadTrainConfig } from '../train/config.ts';
import { runTraining } from '../train/run.ts';

const root = new URL('..', import.meta.url).pathname;
const BIN = join(root, 'bin/dev.js');
const tmp = mkdtempSync(join(tmpdir(), 'lora-cli-'));
const base = join(tmp, 'base');
const tok = buildCharTokenizer('0123456789+=');
const cfg = createConfig({
  d_model: 16,
  n_layers: 2,
  n_heads: 2,
  n_kv_heads: 2,
  mlp_hidden_size: 24,
  max_sequence_length: 32,
  ...tokenizerConfigFields(tok),
});
const TOML = `name = "lora"
seed = 1
[model]
path = "${base}"
[dataset]
task = "addition"
seq_length = 10
[step_scheduler]
global_batch_size = 8
local_batch_size = 4
max_steps = 6
ckpt_every_steps = 3
log_every_steps = 3
val_every_steps = 0
[lr_scheduler]
lr_decay_style = "constant"
lr_warmup_steps = 0
[checkpoint]
keep_last = 0
[peft]
target_modules = ["*.q_proj", "*.v_proj", "*.ff_out"]
dim = 4
alpha = 8
dropout = 0.2
`;
writeFileSync(join(tmp, 'lora.toml'), TOML);

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const run = (args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: tmp, timeout: 240_000 });

test('a LoRA run leaves the f32 base frozen: no gradients or moments, bytes unchanged on disk and GPU', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const m = createModel(cfg, { device: rt, seed: 3 });
  m.tokenizer = tok;
  await saveModel(m, base);
  m.dispose();
  const before = sha(join(base, 'model.safetensors'));
  const tc = loadTrainConfig(TOML, join(tmp, 'lora.toml'), ['max_steps=2'.replace(/^/, 'step_scheduler.')]);
  const r = await runTraining(rt, tc, { configPath: join(tmp, 'lora.toml'), out: join(tmp, 'inproc'), log: () => {} });
  try {
    const P = r.model.params;
    for (const p of P.order) {
      const t = P.get(p.name);
      assert.not.ok(t.requiresGrad || t.grad, `${p.name} is frozen`);
    }
    let moments = true;
    await P.readArena('m').catch(() => (moments = false));
    assert.not.ok(moments, 'the base has no AdamW moments');
    const fresh = await loadModel(base, { device: rt });
    assert.equal(await P.readArena('param'), await fresh.params.readArena('param'), 'GPU base unchanged');
    fresh.dispose();
    const A = await r.model.lora!.params.readArena('m');
    assert.ok(
      A.some((v) => v !== 0),
      'the adapters did train',
    );
  } finally {
    r.model.dispose();
  }
  assert.is(sha(join(base, 'model.safetensors')), before, 'base file bytes unchanged');
});

test('resume of a LoRA run is exact (adapter and AdamW moments bit for bit, dropout on)', () => {
  const a = run(['train', 'lora.toml', '--no-eval', '--out', 'a']);
  assert.is(a.status, 0, a.stderr);
  const b1 = run(['train', 'lora.toml', '--no-eval', '--out', 'b', '--set', 'step_scheduler.max_steps=3']);
  assert.is(b1.status, 0, b1.stderr);
  const b2 = run(['train', 'lora.toml', '--no-eval', '--out', 'b', '--resume']);
  assert.is(b2.status, 0, b2.stderr);
  assert.match(b2.stderr, /resumed from .*step-000003/);
  for (const f of ['adapter_model.safetensors', 'optimizer.safetensors']) {
    assert.is(sha(join(tmp, 'b/step-000006', f)), sha(join(tmp, 'a/step-000006', f)), f);
  }
  const s = run(['sample', '--checkpoint', 'a', '--prompt', '1+2=', '--gen-length', '3', '--block-length', '3']);
  assert.is(s.status, 0, s.stderr);
  assert.match(s.stderr, /LoRA adapter .*step-000006 on its base/);
});

test('merge --dtype f32 gives the logits of base + adapter (within 1e-5 of max |logit|)', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const adapter = join(tmp, 'ext');
  const mods = blockLinears(cfg).filter((m) => m.name !== 'k_proj');
  const conf = adapterConfigFor(mods, { r: 3, alpha: 5, dropout: 0, base });
  conf.rank_pattern = { up_proj: 2 };
  conf.use_rslora = true;
  await writePeftAdapter(
    adapter,
    conf,
    mods.map((m, i) => {
      const r = m.name === 'up_proj' ? 2 : 3;
      return {
        path: m.path,
        A: [r, m.inF],
        B: [m.outF, r],
        read: (ab) =>
          Promise.resolve(seededFloats(r * (ab === 'A' ? m.inF : m.outF), 7 + 2 * i + (ab === 'A' ? 0 : 1), 0.5)),
      };
    }),
  );
  const ids = [[1, 2, 10, 3, 11, tok.maskId, tok.maskId, 4]];
  const m = await loadModel(base, { device: rt });
  loadAdapter(m, adapter);
  const want = await m.logits(ids);
  const noAdapter = (m.lora!.dispose(), (m.lora = null), await m.logits(ids));
  m.dispose();
  await mergeAdapter(base, adapter, join(tmp, 'merged'), { dtype: 'f32' });
  const merged = await loadModel(join(tmp, 'merged'), { device: rt });
  const got = await merged.logits(ids);
  merged.dispose();
  const max = Math.max(...want.map(Math.abs));
  const err = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
  assert.ok(err <= 1e-5 * max, `max |merged - (base + adapter)| ${err} vs max |logit| ${max}`);
  const moved = Math.max(...noAdapter.map((v, i) => Math.abs(v - want[i])));
  assert.ok(moved > 1e-2 * max, `the adapter changes the logits (${moved})`);
});

test('a merge that fails writing leaves neither --out nor a temporary folder; an existing --out is refused', () => {
  const adapter = join(tmp, 'ext'); // written by the test above
  if (!existsSync(adapter)) return;
  for (const fault of ['config.json:ENOSPC', 'model.safetensors:EROFS']) {
    const out = join(tmp, 'merge-fail');
    const r = spawnSync(process.execPath, [BIN, 'merge', '--checkpoint', base, '--adapter', adapter, '--out', out], {
      encoding: 'utf8',
      cwd: tmp,
      timeout: 240_000,
      env: { ...process.env, DLLM_WGPU_TEST_FAIL_WRITE: fault },
    });
    assert.is(r.status, 1, `${fault}: ${r.stderr}`);
    assert.match(r.stderr, /no space left on device|read-only file system/, fault);
    assert.not.match(r.stderr, /^\s+at /m, `${fault}: no stack trace`);
    assert.not.ok(existsSync(out), `${fault}: no half-written --out`);
    assert.equal(
      readdirSync(tmp).filter((n) => n.includes('.tmp-')),
      [],
      `${fault}: no temporary folder left`,
    );
  }
  const r = run(['merge', '--checkpoint', 'base', '--adapter', 'ext', '--out', 'merged']);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /--out merged already exists; give a new folder/);
});

test('bad LoRA input: one-line errors, exit 1', () => {
  const other = join(tmp, 'other');
  const cases: [string[], RegExp][] = [
    [
      ['train', 'lora.toml', '--set', 'peft.target_modules=["*.o_proj"]', '--out', 'runs/bad-target'],
      /"\*\.o_proj" matches no module.*q_proj, k_proj/,
    ],
    [['train', 'lora.toml', '--set', 'peft.dim=0', '--out', 'runs/bad-rank0'], /peft\.dim: must be >= 1/],
    [
      ['train', 'lora.toml', '--set', 'peft.dim=20', '--out', 'runs/bad-rank20'],
      /LoRA rank 20 .* from 1 to the layer's smaller dimension 16/,
    ],
    [['sample', '--checkpoint', 'base', '--adapter', 'base', '--prompt', '1+2='], /base has no adapter_config\.json/],
    [['merge', '--checkpoint', 'base', '--adapter', other, '--out', 'm2'], /another base/],
  ];
  // An adapter for a wider model: its A for blocks.0.q_proj is [2, 32] where this base has in = 16.
  return writePeftAdapter(
    other,
    { ...adapterConfigFor(blockLinears(cfg).slice(0, 1), { r: 2, alpha: 4, dropout: 0, base }) },
    [
      {
        path: 'model.transformer.blocks.0.q_proj',
        A: [2, 32],
        B: [32, 2],
        read: () => Promise.resolve(new Float32Array(64)),
      },
    ],
  ).then(() => {
    for (const [args, re] of cases) {
      const r = run(args);
      const lines = r.stderr
        .split('\n')
        .filter((l) => l.trim() && !l.startsWith('Warning:') && !l.startsWith('device:'));
      assert.is(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.is(lines.length, 1, `one line: ${lines.join(' | ')}`);
      assert.match(lines[0], re, `${args.join(' ')}: ${lines[0]}`);
    }
  });
});

test.after(async () => {
  await closeDevice();
  rmSync(tmp, { recursive: true, force: true });
});
test.run();
