// `bench scale` end to end on the tiny preset: the checkpoint it writes (shard names, the index's
// total_size and weight_map, config.json's fields, BF16 in every header, shapes as LLaDA names
// them), the figures it reports (forwards, FLOPs per forward computed by hand from the shapes,
// memory), the LoRA training case (`--lora`: two steps, trainable parameters and adapter state
// counted by hand), and the CLI's one-line errors for bad flags.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDevice, gpuDevice } from '../tests/gpu.ts';
import { parseConfig } from '../model/config.ts';
import { parameterTable } from '../model/names.ts';
import { SafetensorsFile } from '../model/safetensors.ts';
import { benchScale } from './scale.ts';
import { benchScaleLora } from './scale-lora.ts';
import { SCALE_PRESETS } from './scale-presets.ts';
import type { BenchResult } from './harness.ts';

const root = new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'bench-scale-'));
const dir = join(tmp, 'ckpt');
const shards = Array.from({ length: 6 }, (_, i) => `model-0000${i + 1}-of-00006.safetensors`);
let rows: BenchResult[] = [];

test('bench scale --preset tiny --layers 2 runs: load, plain and dual-cache sampling, matmul rates', async () => {
  const dev = await gpuDevice();
  if (!dev) return;
  rows = await benchScale(dev, { preset: 'tiny', layers: 2, out: dir, repeat: 1, log: () => {} });
  assert.equal(
    rows.map((r) => r.case),
    [
      'scale tiny L2 load',
      'scale tiny L2 sample plain',
      'scale tiny L2 sample dual cache',
      "scale tiny L2 matmul at the model's shapes, 64 rows",
      "scale tiny L2 matmul at the model's shapes, 32 rows",
    ],
  );
});

test('the checkpoint: 6 shards, index, config.json, BF16 headers, LLaDA names and shapes', () => {
  if (!rows.length) return;
  assert.equal(readdirSync(dir).sort(), ['COMPLETE', 'config.json', ...shards, 'model.safetensors.index.json'].sort());
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config, { ...SCALE_PRESETS.tiny.config, n_layers: 2 });
  assert.is(config.torch_dtype, 'bfloat16');
  assert.is(config.rope_theta, 500000);
  assert.is(config.block_type, 'llama');
  const table = parameterTable(parseConfig(config, 'config.json'));
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as {
    metadata: { total_size: number };
    weight_map: Record<string, string>;
  };
  // hand count: wte + ff_out 2 * 1024 * 64, per block 2 * 64 (norms) + 4 * 64^2 + 3 * 192 * 64, ln_f 64
  const params = 2 * 1024 * 64 + 2 * (2 * 64 + 4 * 64 * 64 + 3 * 192 * 64) + 64;
  assert.is(index.metadata.total_size, 2 * params);
  assert.equal(Object.keys(index.weight_map).sort(), table.map((p) => p.name).sort());
  const seen = new Set<string>();
  for (const f of shards) {
    const st = SafetensorsFile.open(join(dir, f));
    try {
      assert.ok(st.names().length > 0, `${f} is empty`);
      for (const name of st.names()) {
        assert.is(index.weight_map[name], f, `${name} is in ${f}, the index says ${index.weight_map[name]}`);
        assert.is(st.info(name).dtype, 'BF16');
        assert.equal(st.info(name).shape, table.find((p) => p.name === name)!.shape);
        seen.add(name);
      }
    } finally {
      st.close();
    }
  }
  assert.is(seen.size, table.length);
});

test('figures: 32 forwards each; FLOPs per forward from the shapes; memory reported', () => {
  if (!rows.length) return;
  const extra = (c: string) => rows.find((r) => r.case === `scale tiny L2 ${c}`)!.extra!;
  // per token through the blocks 2 * L * (2 C^2 + 2 KV C + 3 F C) = 2 * 2 * 53248; the LM head
  // 2 * V * C per row it reads, the block's 32 rows only; attention 4 C L per query-key pair
  const perToken = 2 * 2 * (2 * 64 * 64 + 2 * 64 * 64 + 3 * 192 * 64);
  const perHeadRow = 2 * 1024 * 64;
  const attn = 4 * 64 * 2;
  const plain = extra('sample plain'),
    dual = extra('sample dual cache');
  assert.is(plain.nfe, 32);
  assert.is(dual.nfe, 32);
  assert.is(plain.flops_per_forward, 64 * perToken + 32 * perHeadRow + attn * 64 * 64);
  // dual cache: the block's first step runs all 64 positions, the other 31 only the 32 of the block
  assert.is(
    dual.flops_per_forward,
    ((64 + 31 * 32) * perToken + 32 * 32 * perHeadRow + attn * (64 * 64 + 31 * 32 * 64)) / 32,
  );
  for (const e of [plain, dual]) {
    assert.ok((e.seconds_per_forward as number) > 0);
    assert.ok(Math.abs((e.tokens_per_sec as number) * (e.seconds as number) - 32) < 1e-6);
    const share = e.share_of_matmul as number;
    assert.ok(share > 0 && Number.isFinite(share));
    assert.ok(Math.abs((e.model_gflops as number) / (e.matmul_gflops_same_shapes as number) - share) < 1e-9);
  }
  const load = extra('load');
  // 4 bytes per parameter in f32 storage, 2 for bf16 matrices (norm weights may stay f32)
  const params = 2 * 1024 * 64 + 2 * (2 * 64 + 4 * 64 * 64 + 3 * 192 * 64) + 64;
  const gpuParams = (load.gpu_params_gib as number) * 2 ** 30;
  assert.ok(gpuParams >= 2 * params && gpuParams <= 4 * params + 4096, `parameters take ${gpuParams} bytes`);
  assert.ok((load.host_rss_peak_gib as number) > 0);
  assert.ok((load.gpu_pool_high_water_gib as number) > 0);
});

test('bench scale --lora on the tiny preset: two LoRA steps with recomputation, adapters and memory reported', async () => {
  const dev = await gpuDevice();
  if (!dev || !rows.length) return;
  const lora = await benchScaleLora(dev, { preset: 'tiny', layers: 2, out: dir, log: () => {} });
  assert.equal(
    lora.map((r) => r.case),
    ['scale tiny L2 LoRA step'],
  );
  const e = lora[0].extra!;
  const secs = e.seconds_per_step as number[];
  assert.is(secs.length, 2);
  assert.ok(secs.every((x) => x > 0));
  // rank 8 on q, k, v, attn_out (each 64 x 64) of 2 layers: 2 * 4 * 8 * (64 + 64)
  assert.is(e.trainable_params, 8192);
  assert.ok(Math.abs((e.tokens_per_sec as number) * secs[1] - 64) < 1e-6, 'batch 1 x 64 tokens');
  // f32 gradients and two AdamW moments of the adapters: 3 * 4 bytes each (no padding: 512-float tensors)
  assert.is((e.gpu_grads_and_moments_gib as number) * 2 ** 30, 3 * 4 * 8192);
  const params = 2 * 1024 * 64 + 2 * (2 * 64 + 4 * 64 * 64 + 3 * 192 * 64) + 64;
  const gpuParams = (e.gpu_params_gib as number) * 2 ** 30;
  // the base in bf16 (norm weights f32) plus the f32 adapters
  assert.ok(gpuParams >= 2 * params + 4 * 8192 && gpuParams <= 2 * params + 4 * 8192 + 4096, `${gpuParams} bytes`);
  assert.ok((e.gpu_pool_high_water_gib as number) > 0);
  assert.ok((e.host_rss_peak_gib as number) > 0);
});

function cli(args: string[]) {
  return spawnSync(process.execPath, [join(root, 'bin/dllm-wgpu.js'), 'bench', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
}

test('bad flags: one-line errors, exit 1, before anything is written', () => {
  for (const [args, msg] of [
    [
      ['scale', '--preset', 'tiny', '--layers', '9', '--out', join(tmp, 'x')],
      'the tiny preset has 4 layers; pass 1 to 4',
    ],
    [['kernels', '--layers', '2'], '--layers applies to `bench scale` only'],
    [['train', '--lora'], '--lora applies to `bench scale` only'],
    [['scale', '--preset', 'llada-9b'], "argument 'llada-9b' is invalid"],
  ] as const) {
    const r = cli([...args]);
    assert.is(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    const line = r.stderr.split('\n').find((l) => l.startsWith('error'));
    assert.ok(line?.includes(msg), `${args.join(' ')}: ${r.stderr}`);
    assert.not.match(r.stderr, /at .*\.ts:\d+/);
  }
  assert.not.ok(existsSync(join(tmp, 'x')), 'the refused run created its --out folder');
});

test.after(async () => {
  await closeDevice();
  rmSync(tmp, { recursive: true, force: true });
});
test.run();
