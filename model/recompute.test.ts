// Activation recomputation (model.recompute, engine/autograd.ts checkpoint): on random small LLaDAs,
// the loss and every gradient of a step with recomputation are bit for bit those without it, for
// full fine-tuning and for LoRA (frozen f32 or bf16 base, dropout before or after the adapter, all
// or some modules adapted, padding masks); and on a model with several layers the pool's high-water
// mark drops, with no new GPU buffers once the step is warm. Seeds print on failure (FC_SEED /
// FC_PATH replay).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import type { Device } from '../engine/device.ts';
import { tensor } from '../engine/tensor.ts';
import { backward } from '../engine/autograd.ts';
import { checkProperty, closeDevice, gpuDevice, seededFloats } from '../tests/gpu.ts';
import { createConfig } from './config.ts';
import { createModel } from './io.ts';
import { addLora } from './lora-io.ts';
import type { LLaDAModel } from './llada.ts';
import type { ParamStore } from './params.ts';

const shapes = fc.record({
  L: fc.integer({ min: 1, max: 3 }),
  H: fc.constantFrom(2, 4),
  kvDiv: fc.constantFrom(1, 2),
  D: fc.constantFrom<number>(4, 8),
  F: fc.integer({ min: 4, max: 40 }),
  V: fc.integer({ min: 8, max: 30 }),
  B: fc.integer({ min: 1, max: 2 }),
  T: fc.integer({ min: 2, max: 9 }),
  tying: fc.boolean(),
  padded: fc.boolean(),
  mode: fc.constantFrom('full', 'lora-none', 'lora-pre', 'lora-post'),
  bf16: fc.boolean(),
  allModules: fc.boolean(),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
});
type Case = typeof shapes extends fc.Arbitrary<infer T> ? T : never;

function build(rt: Device, c: Case): { model: LLaDAModel; P: ParamStore } {
  const cfg = createConfig({
    d_model: c.H * c.D,
    n_layers: c.L,
    n_heads: c.H,
    n_kv_heads: c.H / c.kvDiv,
    mlp_hidden_size: c.F,
    vocab_size: c.V,
    embedding_size: c.V,
    max_sequence_length: Math.max(16, c.T),
    weight_tying: c.tying,
    mask_token_id: c.V - 1,
  });
  const lora = c.mode !== 'full';
  const model = createModel(cfg, { device: rt, seed: c.seed, dtype: lora && c.bf16 ? 'bf16' : 'f32' });
  if (!lora) return { model, P: model.params };
  const a = addLora(model, {
    target_modules: c.allModules ? [] : ['*.q_proj', '*.ff_out'],
    exclude_modules: [],
    match_all_linear: c.allModules,
    dim: 2,
    alpha: 4,
    dropout: c.mode === 'lora-none' ? 0 : 0.3,
    dropoutPosition: c.mode === 'lora-pre' ? 'pre' : 'post',
    init: 'xavier',
    seed: c.seed,
  });
  // B starts at zero, which would make A's gradients zero: give B values so every gradient is live.
  a.params.writeArena('param', seededFloats(a.params.totalFloats, c.seed + 7, 0.5));
  a.dropoutKey = { seed: c.seed, step: 3, micro: 1 };
  return { model, P: a.params };
}

/** The loss and every gradient (as bit patterns) of one forward + backward. */
async function step(model: LLaDAModel, P: ParamStore, c: Case): Promise<{ loss: number; grads: Uint32Array[] }> {
  const rt = model.rt;
  const N = c.B * c.T;
  const ids = Int32Array.from(seededFloats(N, c.seed + 1), (u) => Math.floor((u + 1) * 0.5 * (c.V - 1)));
  const keyMask = c.padded
    ? Float32Array.from({ length: N }, (_, i) => (i % c.T < Math.max(1, c.T - 2) ? 1 : 0))
    : undefined;
  const w = Float32Array.from(seededFloats(N, c.seed + 2), (u) => Math.abs(u));
  P.zeroGrads();
  const loss = await rt.scope(async () => {
    const l = model.loss(
      { ids, B: c.B, T: c.T, keyMask },
      tensor(
        rt,
        Int32Array.from(ids, (t) => (t + 1) % c.V),
        [N],
        'i32',
      ),
      tensor(rt, w, [N]),
    );
    backward(l);
    return (await l.readF32())[0];
  });
  const grads: Uint32Array[] = [];
  for (const g of P.gradChunks()) grads.push(new Uint32Array((await g.readF32()).buffer));
  return { loss, grads };
}

function firstDifference(a: Uint32Array[], b: Uint32Array[]): string | null {
  for (let k = 0; k < a.length; k++) {
    for (let i = 0; i < a[k].length; i++) {
      if (a[k][i] !== b[k][i]) {
        const f = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0];
        return `gradient chunk ${k} element ${i}: ${f(a[k][i])} without recomputation, ${f(b[k][i])} with`;
      }
    }
  }
  return null;
}

test('recomputation changes no gradient bit: full fine-tuning and LoRA, random small models', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await checkProperty(
    'recompute gradients',
    shapes,
    async (c) => {
      const { model, P } = build(rt, c);
      try {
        P.enableGrad();
        model.recompute = false;
        const plain = await step(model, P, c);
        model.recompute = true;
        const again = await step(model, P, c);
        assert.ok(Number.isFinite(plain.loss), `loss ${plain.loss}`);
        assert.ok(
          plain.grads.some((g) => g.some((u) => (u & 0x7fffffff) !== 0)),
          'every gradient is zero: the comparison would prove nothing',
        );
        assert.is(again.loss, plain.loss, 'loss');
        const diff = firstDifference(plain.grads, again.grads);
        assert.ok(diff === null, `${c.mode}: ${diff}`);
      } finally {
        model.dispose();
      }
    },
    12,
    'node --import tsx model/recompute.test.ts',
  );
});

test("recomputation: the pool's high-water mark drops on a 6-layer model; no new buffers once warm", async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const c: Case = {
    L: 6,
    H: 4,
    kvDiv: 1,
    D: 16,
    F: 192,
    V: 32,
    B: 4,
    T: 64,
    tying: false,
    padded: false,
    mode: 'full',
    bf16: false,
    allModules: true,
    seed: 5,
  };
  const { model, P } = build(rt, c);
  try {
    P.enableGrad();
    const peak = async (recompute: boolean) => {
      model.recompute = recompute;
      await rt.sync();
      rt.pool.trim();
      const base = rt.pool.stats.allocatedBytes;
      rt.pool.stats.highWaterBytes = base;
      await step(model, P, c);
      return rt.pool.stats.highWaterBytes - base;
    };
    const plain = await peak(false);
    const recomputed = await peak(true);
    console.log(
      `  pool high-water of a step, 6 layers, B 4 x T 64, C 64: ${(plain / 2 ** 20).toFixed(2)} MiB plain, ` +
        `${(recomputed / 2 ** 20).toFixed(2)} MiB with recomputation`,
    );
    assert.ok(recomputed < 0.5 * plain, `recomputation peaks at ${recomputed} bytes, without it ${plain}`);
    await step(model, P, c);
    const creates = rt.pool.stats.creates;
    await step(model, P, c);
    assert.is(rt.pool.stats.creates, creates, 'a warm step with recomputation created GPU buffers');
  } finally {
    model.dispose();
  }
});

test.after(closeDevice);
test.run();
