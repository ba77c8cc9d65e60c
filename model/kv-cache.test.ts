// 16-bit KV caches (sampling): a bf16/f16 cache holds exactly the f32 cache's keys/values rounded to
// nearest even (layer 0, where both runs compute the same values bit for bit), also after a
// dual-cache step rewrote some rows; logits read through a bf16 cache match the float64 reference
// with keys/values rounded to bf16, closer than to the unrounded reference; and the sampler's
// cache dtype choice ('auto' = the weights' 16-bit dtype, else f32) with its memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeDevice, gpuDevice } from '../tests/gpu.ts';
import { lladaForwardRef, type Weights } from '../tests/llada-ref.ts';
import { allclose } from '../kernels/check.ts';
import { createConfig, headDim, kvHeads, type ModelConfig } from './config.ts';
import { createModel } from './io.ts';
import type { CacheDType, LLaDAModel } from './llada.ts';
import { bf16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from './float-convert.ts';
import { modelDenoiser } from '../sample/denoiser.ts';
import { generate } from '../sample/generate.ts';

const cfgOf = (over: Partial<ModelConfig> = {}) =>
  createConfig({
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

const B = 2,
  L = 10;
const ids = Int32Array.from({ length: B * L }, (_, i) => (i * 7 + 3) % 13);

async function read(t: { read(): Promise<unknown> }) {
  return (await t.read()) as Float32Array | Uint16Array;
}

test('a bf16/f16 cache holds the f32 cache rounded to nearest even, after the fill and after a dual step', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const m = createModel(cfgOf(), { device: rt, seed: 3 });
  const step = ids.slice();
  for (let b = 0; b < B; b++) for (let j = 4; j < 7; j++) step[b * L + j] = (step[b * L + j] + 5) % 13;
  const sub = new Int32Array(B * 3);
  for (let b = 0; b < B; b++) sub.set(step.subarray(b * L + 4, b * L + 7), b * 3);
  const run = async (dtype: CacheDType) => {
    const cache = m.newCache(B, L, dtype);
    const layer0 = async () => [await read(cache.k[0]), await read(cache.v[0])];
    await rt.scope(async () => void (await m.forwardCached(ids, B, L, 0, cache).read()));
    const fill = await layer0();
    await rt.scope(async () => void (await m.forwardCached(sub, B, 3, 4, cache).read())); // rows [4, 7)
    const after = await layer0();
    assert.is(cache.bytes, 2 * 2 * B * L * kvHeads(m.config) * headDim(m.config) * (dtype === 'f32' ? 4 : 2));
    cache.dispose();
    return [...fill, ...after];
  };
  const f32 = (await run('f32')) as Float32Array[];
  for (const kind of ['bf16', 'f16'] as const) {
    const got = await run(kind);
    got.forEach((g, i) => {
      const want = new Uint16Array(f32[i].length);
      (kind === 'bf16' ? f32ToBf16Bits : f32ToF16Bits)(f32[i], want);
      assert.equal(Array.from(g), Array.from(want), `${kind} ${['k fill', 'v fill', 'k step', 'v step'][i]}`);
    });
  }
  m.dispose();
});

/** Every parameter as f32 values (bf16 ones widened exactly). */
async function valuesOf(m: LLaDAModel): Promise<Weights> {
  const w: Weights = new Map();
  for (const p of m.params.order) {
    const t = m.params.get(p.name);
    const host = await t.read();
    if (t.dtype === 'f32') w.set(p.name, host);
    else {
      const f = new Float32Array(t.size);
      bf16BitsToF32(host as Uint16Array, f);
      w.set(p.name, f);
    }
  }
  return w;
}

const toBf16 = (x: Float64Array) => {
  const f = Float32Array.from(x);
  const h = new Uint16Array(f.length);
  f32ToBf16Bits(f, h);
  bf16BitsToF32(h, f);
  x.set(f);
};

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

test('logits through a bf16 cache on a bf16 model match the reference with bf16-rounded keys/values', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const cfg = cfgOf();
  const m = createModel(cfg, { device: rt, seed: 5, dtype: 'bf16' });
  const w = await valuesOf(m);
  const cache = m.newCache(B, L, 'bf16');
  const got = (await rt.scope(async () => await m.forwardCached(ids, B, L, 0, cache).read())) as Float32Array;
  // dual-cache step over unchanged rows [3, 8): the same logits from the cache
  const sub = new Int32Array(B * 5);
  for (let b = 0; b < B; b++) sub.set(ids.subarray(b * L + 3, b * L + 8), b * 5);
  const part = (await rt.scope(async () => await m.forwardCached(sub, B, 5, 3, cache).read())) as Float32Array;
  cache.dispose();
  const rounded = lladaForwardRef(cfg, w, ids, B, L, undefined, toBf16);
  const plain = lladaForwardRef(cfg, w, ids, B, L);
  // A GPU key a few f32 ulps from the reference's may round to the other bf16 neighbour: the
  // bound allows a few such flips, and is still well under what bf16 rounding itself moves.
  const tol = { atol: 5e-4, rtol: 0 };
  allclose(got, rounded, tol, 'bf16 cache fill vs reference with bf16 K/V');
  assert.ok(maxDiff(plain, rounded) > 20 * tol.atol, `rounding K/V moves logits by ${maxDiff(plain, rounded)}`);
  const V = m.vocabRows;
  const want = new Float64Array(B * 5 * V);
  for (let b = 0; b < B; b++) want.set(rounded.subarray((b * L + 3) * V, (b * L + 8) * V), b * 5 * V);
  allclose(part, want, tol, 'dual step over unchanged rows');
  m.dispose();
});

test("sampling: cache dtype 'auto' follows 16-bit weights, else f32; dual bf16 sampling runs at half the cache", async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const cfg = cfgOf();
  const mf = createModel(cfg, { device: rt, seed: 8 });
  const mb = createModel(cfg, { device: rt, seed: 8, dtype: 'bf16' });
  assert.is(modelDenoiser(mf, { cache: 'dual' }).cacheDtype, 'f32');
  assert.is(modelDenoiser(mb, { cache: 'dual' }).cacheDtype, 'bf16');
  assert.is(modelDenoiser(mb, { cache: 'dual', cacheDtype: 'f32' }).cacheDtype, 'f32');
  const prompt = [1, 5, 9, 2];
  const opts = {
    steps: 8,
    genLength: 8,
    blockLength: 4,
    temperature: 0,
    remasking: 'low_confidence' as const,
    cfgScale: 0,
    seed: 1,
    maskId: 12,
    endIds: [],
  };
  const bytes: number[] = [];
  for (const cacheDtype of ['bf16', 'f32'] as const) {
    const den = modelDenoiser(mb, { cache: 'dual', cacheDtype });
    const r = await generate(den, [prompt], 0, 64, opts);
    den.dispose();
    assert.is(r.outputIds[0].length, 8);
    assert.ok(r.nfe > 0);
    bytes.push(den.cacheBytes);
  }
  assert.is(bytes[0] * 2, bytes[1]);
  assert.is(bytes[0], 2 * cfg.n_layers * 1 * (prompt.length + 8) * kvHeads(cfg) * headDim(cfg) * 2);
  mf.dispose();
  mb.dispose();
});

test.after(closeDevice);
test.run();
