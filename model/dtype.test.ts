// Weight dtypes end to end: a BF16 checkpoint loads as bf16 by default with its bits untouched, its
// logits equal an f32 computation on the same (bf16-rounded) weights within 1e-3 of the logits'
// standard deviation, f16 storage rounds to nearest even and matches the float64 forward on the
// rounded weights, saving writes each tensor's own dtype, and 16-bit weights refuse training.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { closeDevice, gpuDevice, throwsEngine } from '../tests/gpu.ts';
import { lladaForwardRef, type Weights } from '../tests/llada-ref.ts';
import { allclose } from '../kernels/check.ts';
import { createConfig, type ModelConfig } from './config.ts';
import { createModel, loadModel, saveModel } from './io.ts';
import type { LLaDAModel } from './llada.ts';
import { SafetensorsFile } from './safetensors.ts';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from './float-convert.ts';
import { scratchDir } from './model.test-util.ts';

const tmp = scratchDir('dtype');

function tinyConfig(over: Partial<ModelConfig> = {}): ModelConfig {
  return createConfig({
    d_model: 32,
    n_heads: 4,
    n_kv_heads: 2,
    n_layers: 2,
    mlp_hidden_size: 40,
    vocab_size: 13,
    embedding_size: 13,
    init_fn: 'normal',
    init_std: 0.3,
    ...over,
  });
}

/** Every parameter as f32 values (16-bit ones widened exactly). */
async function valuesOf(m: LLaDAModel): Promise<Weights> {
  const w: Weights = new Map();
  for (const p of m.params.order) {
    const t = m.params.get(p.name);
    const host = await t.read();
    if (t.dtype === 'f32') w.set(p.name, host);
    else {
      const f = new Float32Array(t.size);
      (t.dtype === 'bf16' ? bf16BitsToF32 : f16BitsToF32)(host as Uint16Array, f);
      w.set(p.name, f);
    }
  }
  return w;
}

const ids = [
  [1, 5, 9, 2, 12, 0, 7, 3, 3],
  [4, 4, 11, 6, 8, 10, 1, 2, 5],
];

function std(x: Float32Array): number {
  let s = 0,
    ss = 0;
  for (const v of x) s += v;
  const mean = s / x.length;
  for (const v of x) ss += (v - mean) ** 2;
  return Math.sqrt(ss / x.length);
}

for (const tying of [false, true]) {
  test(`bf16 checkpoint (weight_tying ${tying}): bits kept, logits = f32 on the same weights within 1e-3 std`, async () => {
    const rt = await gpuDevice();
    if (!rt) return;
    const cfg = tinyConfig({ weight_tying: tying });
    const m = createModel(cfg, { device: rt, seed: 5 });
    const dir = join(tmp, `bf16-${tying}`);
    await saveModel(m, dir, { dtype: 'BF16' });
    m.dispose();
    const mb = await loadModel(dir, { device: rt }); // the checkpoint's own dtype
    const mf = await loadModel(dir, { device: rt, dtype: 'f32' });
    assert.is(mb.dtype, 'bf16');
    const file = SafetensorsFile.open(join(dir, 'model.safetensors'));
    for (const p of mb.params.order) {
      const t = mb.params.get(p.name);
      assert.is(t.dtype, p.shape.length >= 2 ? 'bf16' : 'f32', `${p.name} storage`);
      if (t.dtype !== 'bf16') continue;
      const raw = file.readRaw(p.name);
      assert.equal(Array.from(await t.read()), Array.from(new Uint16Array(raw.buffer, 0, t.size)), `${p.name} bits`);
    }
    file.close();
    const lb = await mb.logits(ids);
    const lf = await mf.logits(ids);
    const tol = 1e-3 * std(lf);
    assert.ok(tol > 0);
    allclose(lb, lf, { atol: tol, rtol: 0 }, 'bf16-stored vs f32-stored logits');
    allclose(lb, lladaForwardRef(cfg, await valuesOf(mb), ids.flat(), 2, 9), { atol: 1e-4, rtol: 1e-4 }, 'vs float64');
    mb.dispose();
    mf.dispose();
  });
}

test('f16 storage: weights rounded to nearest even, logits match float64 on the rounded weights', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const cfg = tinyConfig();
  const m = createModel(cfg, { device: rt, seed: 9 });
  const dir = join(tmp, 'f32-src');
  await saveModel(m, dir);
  const w32 = await valuesOf(m);
  m.dispose();
  const mh = await loadModel(dir, { device: rt, dtype: 'f16' });
  for (const p of mh.params.order) {
    const t = mh.params.get(p.name);
    if (t.dtype !== 'f16') continue;
    const want = new Uint16Array(t.size);
    f32ToF16Bits(Float32Array.from(w32.get(p.name)!), want);
    assert.equal(Array.from(await t.read()), Array.from(want), `${p.name} rounded to f16`);
  }
  const got = await mh.logits(ids);
  allclose(got, lladaForwardRef(cfg, await valuesOf(mh), ids.flat(), 2, 9), { atol: 1e-4, rtol: 1e-4 }, 'f16');
  mh.dispose();
});

test('saving writes each tensor in its own dtype; a bf16 model round-trips bit for bit', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const cfg = tinyConfig();
  const m = createModel(cfg, { device: rt, seed: 2, dtype: 'bf16' });
  const w0 = await valuesOf(m);
  // createModel rounds the f32 initialisation to bf16 (nearest even).
  const f = createModel(cfg, { device: rt, seed: 2 });
  const wf = await valuesOf(f);
  f.dispose();
  for (const [k, v] of wf) {
    const bits = new Uint16Array(v.length);
    f32ToBf16Bits(Float32Array.from(v), bits);
    const r = new Float32Array(v.length);
    bf16BitsToF32(bits, r);
    const want = m.params.get(k).dtype === 'bf16' ? r : v;
    assert.equal(Array.from(w0.get(k)!), Array.from(want), `${k} initial values`);
  }
  const dir = join(tmp, 'bf16-model');
  await saveModel(m, dir);
  m.dispose();
  const file = SafetensorsFile.open(join(dir, 'model.safetensors'));
  for (const t of file.tensors()) assert.is(t.dtype, t.shape.length >= 2 ? 'BF16' : 'F32', t.name);
  file.close();
  const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { torch_dtype: string };
  assert.is(json.torch_dtype, 'bfloat16');
  const back = await loadModel(dir, { device: rt });
  const w1 = await valuesOf(back);
  for (const [k, v] of w0) assert.equal(Array.from(w1.get(k)!), Array.from(v), `${k} round trip`);
  throwsEngine(() => back.params.enableGrad(), 'full fine-tuning needs f32');
  back.dispose();
});

test('chunked loading: raw 16-bit ranges and per-chunk conversion equal a one-chunk load', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const m = createModel(tinyConfig(), { device: rt, seed: 4, dtype: 'bf16' });
  const dir = join(tmp, 'bf16-chunks');
  await saveModel(m, dir);
  m.dispose();
  // 100 bytes: 25 f32 values or 24 16-bit ones per chunk, so every tensor spans several chunks.
  for (const dtype of ['bf16', 'f16', 'f32'] as const) {
    const whole = await loadModel(dir, { device: rt, dtype });
    const parts = await loadModel(dir, { device: rt, dtype, chunkBytes: 100 });
    const [a, b] = [await valuesOf(whole), await valuesOf(parts)];
    for (const [k, v] of a) assert.equal(Array.from(b.get(k)!), Array.from(v), `${dtype} ${k}`);
    whole.dispose();
    parts.dispose();
  }
});

test.after(closeDevice);
test.run();
