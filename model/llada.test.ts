// The GPU LLaDA against a float64 CPU forward (tests/llada-ref.ts): logits of tiny random checkpoints
// saved and loaded in the real layout (F32, BF16, sharded), GQA, padding, and the gradient of a
// masked-token loss through the whole model against finite differences.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDevice, gpuDevice } from '../tests/gpu.ts';
import { lladaForwardRef, weightedXentRef, type Weights } from '../tests/llada-ref.ts';
import { allclose } from '../kernels/check.ts';
import { createConfig, type ModelConfig } from './config.ts';
import { createModel, loadModel, saveModel } from './io.ts';
import type { LLaDAModel } from './llada.ts';
import { backward } from '../engine/autograd.ts';
import { tensor } from '../engine/tensor.ts';
import { softmaxCrossEntropy } from '../kernels/softmax-xent/softmax-xent.ts';
import { f32ToBf16, bf16ToF32 } from './float-convert.ts';

const tmp = mkdtempSync(join(tmpdir(), 'llada-test-'));

function tinyConfig(over: Partial<ModelConfig> = {}): ModelConfig {
  return createConfig({
    d_model: 16,
    n_heads: 4,
    n_kv_heads: 2,
    n_layers: 2,
    mlp_hidden_size: 24,
    vocab_size: 11,
    embedding_size: 11,
    init_fn: 'normal',
    init_std: 0.3,
    ...over,
  });
}

async function weightsOf(m: LLaDAModel): Promise<Weights> {
  const w: Weights = new Map();
  for (const p of m.params.order) w.set(p.name, await m.params.get(p.name).read());
  return w;
}

function randIds(n: number, V: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s % V));
}

test('GPU logits match the float64 CPU forward (GQA, F32 checkpoint round trip)', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const cfg = tinyConfig();
  const m = createModel(cfg, { device: rt, seed: 7 });
  const dir = join(tmp, 'f32');
  await saveModel(m, dir, { dtype: 'F32' });
  const w0 = await weightsOf(m);
  m.dispose();
  const m2 = await loadModel(dir, { device: rt });
  const w = await weightsOf(m2);
  for (const [k, v] of w0) assert.equal(Array.from(w.get(k)!), Array.from(v), `round trip of ${k} is bit-exact`);
  const B = 2,
    T = 9;
  const ids = randIds(B * T, 11, 3);
  const got = await m2.logits([ids.slice(0, T), ids.slice(T)]);
  const want = lladaForwardRef(cfg, w, ids, B, T);
  allclose(got, want, { atol: 1e-4, rtol: 1e-4 }, 'logits');
  m2.dispose();
});

test('BF16 checkpoint equals the F32 one after rounding; sharded loads identically', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const cfg = tinyConfig({ n_kv_heads: 4 });
  const m = createModel(cfg, { device: rt, seed: 11 });
  const w = await weightsOf(m);
  await saveModel(m, join(tmp, 'bf16'), { dtype: 'BF16' });
  await saveModel(m, join(tmp, 'sharded'), { dtype: 'F32', maxShardBytes: 2048 });
  await saveModel(m, join(tmp, 'single'), { dtype: 'F32' });
  m.dispose();
  const ids = [randIds(7, 11, 5)];
  const mb = await loadModel(join(tmp, 'bf16'), { device: rt, dtype: 'f32' }); // widened on load
  const wb = await weightsOf(mb);
  for (const [k, v] of w) {
    const rounded = Array.from(v, (x) => bf16ToF32(f32ToBf16(x)));
    assert.equal(Array.from(wb.get(k)!), rounded, `${k} holds the bf16-rounded values`);
  }
  allclose(await mb.logits(ids), lladaForwardRef(cfg, wb, ids[0], 1, 7), { atol: 1e-4, rtol: 1e-4 }, 'bf16 logits');
  mb.dispose();
  const ms = await loadModel(join(tmp, 'sharded'), { device: rt });
  const m1 = await loadModel(join(tmp, 'single'), { device: rt });
  assert.equal(
    Array.from(await ms.logits(ids)),
    Array.from(await m1.logits(ids)),
    'sharded == single file, bit for bit',
  );
  ms.dispose();
  m1.dispose();
});

test("a padded batch row gives the unpadded row's logits", async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const cfg = tinyConfig();
  const m = createModel(cfg, { device: rt, seed: 3 });
  const a = randIds(5, 11, 9),
    b = randIds(8, 11, 10);
  const alone = await m.logits([a]);
  const padded = await m.logits([[...a, 0, 0, 0], b], {
    attentionMask: [[1, 1, 1, 1, 1, 0, 0, 0], new Array(8).fill(1)],
  });
  allclose(padded.subarray(0, 5 * 11), alone, { atol: 1e-5, rtol: 1e-4 }, 'padded row');
  m.dispose();
});

test('gradient of a masked-token loss through the whole model matches finite differences', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const cfg = tinyConfig({ n_layers: 1 });
  const m = createModel(cfg, { device: rt, seed: 5 });
  m.params.enableGrad();
  const B = 1,
    T = 6,
    V = 11;
  const targets = randIds(T, V, 4);
  const noisy = targets.map((t, i) => (i % 2 ? cfg.mask_token_id : t));
  const weights = noisy.map((t) => (t === cfg.mask_token_id ? 1.7 : 0));
  m.params.zeroGrads();
  await rt.scope(async () => {
    const logits = m.forward({ ids: Int32Array.from(noisy), B, T });
    const loss = softmaxCrossEntropy(logits, tensor(rt, targets, [T], 'i32'), tensor(rt, weights, [T]));
    backward(loss);
    await rt.sync();
  });
  const w = await weightsOf(m);
  const f = (ww: Weights) => weightedXentRef(lladaForwardRef(cfg, ww, noisy, B, T), V, targets, weights);
  let checked = 0;
  for (const p of m.params.order) {
    const g = (await m.params.get(p.name).grad!.read()) as Float32Array;
    const base = Float64Array.from(w.get(p.name)!);
    for (const j of [0, Math.floor(base.length / 2), base.length - 1]) {
      const h = 1e-5;
      const plus = new Map(w),
        minus = new Map(w);
      const bp = base.slice(),
        bm = base.slice();
      bp[j] += h;
      bm[j] -= h;
      plus.set(p.name, bp);
      minus.set(p.name, bm);
      const fd = (f(plus) - f(minus)) / (2 * h);
      assert.ok(
        Math.abs(fd - g[j]) <= 2e-3 * Math.abs(fd) + 2e-4,
        `${p.name}[${j}]: GPU grad ${g[j]} vs finite differences ${fd}`,
      );
      checked++;
    }
  }
  assert.ok(checked >= 3 * 9, 'every parameter tensor checked');
  m.dispose();
});

test('KV cache: a partial forward over cached keys/values equals the full forward when nothing changed', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const cfg = tinyConfig();
  const m = createModel(cfg, { device: rt, seed: 13 });
  const B = 2,
    L = 9,
    V = 11,
    s0 = 4,
    s1 = 7;
  const ids = Int32Array.from(randIds(B * L, V, 17));
  const full = (await rt.scope(async () => await m.forward({ ids, B, T: L }).read())) as Float32Array;
  const cache = m.newCache(B, L);
  const filled = (await rt.scope(async () => await m.forwardCached(ids, B, L, 0, cache).read())) as Float32Array;
  allclose(filled, full, { atol: 1e-6, rtol: 1e-5 }, 'cache fill = full forward');
  for (const [a, b] of [
    [s0, s1],
    [s0, L],
  ]) {
    const sub = new Int32Array(B * (b - a));
    for (let r = 0; r < B; r++) sub.set(ids.subarray(r * L + a, r * L + b), r * (b - a));
    const part = (await rt.scope(async () => await m.forwardCached(sub, B, b - a, a, cache).read())) as Float32Array;
    const want = new Float32Array(B * (b - a) * V);
    for (let r = 0; r < B; r++) want.set(full.subarray((r * L + a) * V, (r * L + b) * V), r * (b - a) * V);
    allclose(part, want, { atol: 1e-5, rtol: 1e-4 }, `positions [${a}, ${b}) from the cache`);
  }
  cache.dispose();
  m.dispose();
});

test.after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await closeDevice();
});
test.run();
