// A model with LLaDA's real vocabulary (126464) at d_model 512 on whatever adapter there is: its
// embedding, tied to the LM head (259 MB in f32), exceeds lavapipe's 128 MiB storage binding, so
// the embedding runs in row ranges, the training loss through the LM head fused with
// cross-entropy over vocabulary chunks, and sampling through the head fused with the pick.
// Checked against an independent path (full logits through the public logits() API, where linear
// splits the head by rows, and a float64 cross-entropy on the host): the fused loss, and the
// sampled tokens equal the argmax of those logits; two AdamW steps on one batch lower the loss.
// Weights are a cheap seeded uniform (host Box-Muller init of 65M values would dominate the test).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeDevice, gpuDevice } from './gpu.ts';
import { tensor } from '../engine/tensor.ts';
import { backward } from '../engine/autograd.ts';
import { adamwStep } from '../kernels/adamw/adamw.ts';
import { createConfig } from '../model/config.ts';
import { LLaDAModel } from '../model/llada.ts';
import { crossEntropyRow } from '../train/mdlm.ts';
import { modelDenoiser } from '../sample/denoiser.ts';

const V = 126464;

test('LLaDA vocabulary (126464) at d_model 512: trains two steps and samples', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const cfg = createConfig({
    d_model: 512,
    n_heads: 8,
    n_kv_heads: 8,
    n_layers: 1,
    mlp_hidden_size: 256,
    vocab_size: V,
    embedding_size: V,
    max_sequence_length: 16,
    weight_tying: true,
  });
  const model = new LLaDAModel(rt, cfg);
  const P = model.params;
  for (const p of P.order) {
    const n = p.shape.reduce((a, d) => a * d, 1);
    const t = P.get(p.name);
    t.write(p.shape.length < 2 ? new Float32Array(n).fill(1) : uniform(n, n + p.name.length, 0.05));
    await rt.sync(); // upload staging freed tensor by tensor
  }
  try {
    const headBytes = V * cfg.d_model * 4;
    console.log(
      `head ${(headBytes / 2 ** 20).toFixed(0)} MiB, binding limit ${(rt.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB` +
        ` -> ${model.logitsFit(16) ? 'unsplit' : 'fused, vocabulary chunks'}`,
    );
    const B = 2,
      T = 8,
      N = B * T;
    const clean = Int32Array.from({ length: N }, (_, i) => (i * 40503 + 17) % V); // ids all over the vocabulary
    clean[N - 1] = V - 1; // the last embedding row / head row
    const noisy = clean.map((id, i) => (i % 2 === 0 ? 126336 : id));
    const weights = Float32Array.from({ length: N }, (_, i) => (i % 2 === 0 ? 1 / (N / 2) : 0));
    // The fused loss against float64 cross-entropy of the whole logits (another code path).
    const rows = Array.from({ length: B }, (_, b) => Array.from(noisy.subarray(b * T, (b + 1) * T)));
    const full = await model.logits(rows);
    let want = 0;
    for (let i = 0; i < N; i++) if (weights[i]) want += weights[i] * crossEntropyRow(full, V, i, clean[i]);
    P.enableGrad();
    const ranges = P.optimizerRanges(); // one per arena chunk and weight-decay group
    const losses: number[] = [];
    for (let step = 1; step <= 3; step++) {
      const t0 = performance.now();
      P.zeroGrads();
      const loss = await rt.scope(async () => {
        const l = model.loss({ ids: noisy, B, T }, tensor(rt, clean, [N], 'i32'), tensor(rt, weights, [N]));
        if (step <= 2) backward(l);
        return (await l.read())[0];
      });
      losses.push(loss);
      if (step <= 2) {
        rt.tidy(() => {
          for (const r of ranges)
            adamwStep(r.p, r.g, r.m, r.v, { lr: 3e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0, step });
        });
        await rt.sync();
      }
      console.log(`step ${step}: loss ${loss.toFixed(4)} (${(performance.now() - t0).toFixed(0)} ms)`);
    }
    assert.ok(Math.abs(losses[0] - want) < 1e-4 * want, `fused loss ${losses[0]} vs ${want} from the whole logits`);
    assert.ok(losses[2] < losses[1] && losses[1] < losses[0], `loss should fall: ${losses.join(', ')}`);

    // Sampling: the fused, chunked pick equals the argmax of the whole logits.
    const den = modelDenoiser(model);
    const x = noisy.slice();
    const pred = await den.predict({
      x,
      B,
      L: T,
      keyMask: undefined,
      uncond: undefined,
      cfgScale: 0,
      temperature: 0,
      seeds: [0, 0],
      origins: [0, 0],
      block: 0,
      suppressIds: [],
      from: 0,
      to: T,
      blockStep: 0,
    });
    const logits = await model.logits(Array.from({ length: B }, (_, b) => Array.from(x.subarray(b * T, (b + 1) * T))));
    for (let i = 0; i < N; i++) {
      let best = 0;
      for (let j = 1; j < V; j++) if (logits[i * V + j] > logits[i * V + best]) best = j;
      assert.is(pred.tokens[i], best, `position ${i}: fused pick ${pred.tokens[i]} vs argmax ${best}`);
    }
    den.dispose();
    for (const r of ranges) [r.p, r.g, r.m, r.v].forEach((t) => t.dispose());
  } finally {
    model.dispose();
  }
});

/** n uniform values in [-a, a) from a 32-bit LCG: fast, deterministic weights. */
function uniform(n: number, seed: number, a: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2 * a;
  }
  return out;
}

test.after(closeDevice);
test.run();
