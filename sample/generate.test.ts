// The sampler against a straightforward CPU implementation of LLaDA's generate()
// (generate-ref.test-util.ts: float64 logits from tests/llada-ref.ts), greedy, step by step; the
// Gumbel-noise sampling distribution (chi-square); infill, early stop and EOS handling.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeDevice, gpuDevice } from '../tests/gpu.ts';
import type { Weights } from '../tests/llada-ref.ts';
import { createConfig } from '../model/config.ts';
import { createModel } from '../model/io.ts';
import type { LLaDAModel } from '../model/llada.ts';
import { tensor } from '../engine/tensor.ts';
import { pickTokens } from '../kernels/sample-pick/sample-pick.ts';
import { generate, type GenerateOptions } from './generate.ts';
import { infill } from './infill.ts';
import { cpuGenerate } from './generate-ref.test-util.ts';
import { modelDenoiser } from './denoiser.ts';

const V = 13,
  MASK = 2,
  EOS = 0;

async function weightsOf(m: LLaDAModel): Promise<Weights> {
  const w: Weights = new Map();
  for (const p of m.params.order) w.set(p.name, await m.params.get(p.name).read());
  return w;
}

for (const [name, o] of [
  ['one block', { steps: 6, gen: 6, block: 6, cfgScale: 0 }],
  ['three blocks, 2 tokens per step', { steps: 3, gen: 6, block: 2, cfgScale: 0 }],
  ['two blocks with classifier-free guidance', { steps: 4, gen: 6, block: 3, cfgScale: 1.5 }],
] as const) {
  test(`greedy generation commits what the CPU reference commits, step by step (${name})`, async () => {
    const rt = await gpuDevice();
    if (!rt) return;
    const cfg = createConfig({
      d_model: 16,
      n_heads: 4,
      n_kv_heads: 2,
      n_layers: 1,
      mlp_hidden_size: 24,
      vocab_size: V,
      embedding_size: V,
      init_fn: 'normal',
      init_std: 0.5,
    });
    const m = createModel(cfg, { device: rt, seed: 21 });
    const w = await weightsOf(m);
    const prompt = [5, 7, 3, 9];
    const want = cpuGenerate(cfg, w, prompt, { ...o, temperature: 0, remasking: 'low_confidence', seed: 0 }, MASK);
    const got: number[][] = [];
    const r = await generate(modelDenoiser(m), [prompt], EOS, 64, {
      steps: o.steps,
      genLength: o.gen,
      blockLength: o.block,
      temperature: 0,
      remasking: 'low_confidence',
      cfgScale: o.cfgScale,
      seed: 0,
      maskId: MASK,
      endIds: [EOS],
      earlyStop: false,
      onStep: (s) => got.push(Array.from(s.x)),
    });
    assert.is(got.length, want.length, 'number of steps');
    assert.is(r.nfe, o.steps);
    for (let s = 0; s < want.length; s++) {
      const diff = want[s].x.flatMap((t, i) => (t !== got[s][i] ? [i] : []));
      // A difference is only allowed where float32 vs float64 confidences tie (1e-5).
      for (const i of diff) {
        const c = want[s].conf;
        const near = c.some((v, j) => j !== i && Number.isFinite(v) && Math.abs(v - c[i]) < 1e-5);
        assert.ok(near, `step ${s}: position ${i} GPU ${got[s][i]} vs CPU ${want[s].x[i]} without a confidence tie`);
      }
      if (diff.length) return; // after a tie the runs legitimately diverge
    }
    m.dispose();
  });
}

test('temperature sampling follows softmax(logits / T) (chi-square, 4 dof, alpha 0.001)', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const row = [1.0, 0.2, -0.5, 2.0, 0.0];
  const T = 0.7,
    N = 4000;
  const logits = tensor(
    rt,
    Float32Array.from({ length: N * 5 }, (_, i) => row[i % 5]),
    [N, 5],
  );
  const out = (await pickTokens(logits, {
    temperature: T,
    noise: { block: 9, rowsPerSeq: N, start: 0, seqs: [{ seed: 1234, origin: 0, step: 0 }] },
  }).read()) as Float32Array;
  logits.dispose();
  const counts = new Array<number>(5).fill(0);
  for (let i = 0; i < N; i++) counts[out[2 * i]]++;
  const z = row.reduce((s, l) => s + Math.exp(l / T), 0);
  const chi2 = row.reduce((s, l, v) => {
    const e = (N * Math.exp(l / T)) / z;
    return s + (counts[v] - e) ** 2 / e;
  }, 0);
  assert.ok(chi2 < 18.47, `chi-square ${chi2.toFixed(2)} >= 18.47 (counts ${counts.join(',')})`);
  // and the noise matters: at T -> 0 the argmax (id 3) always wins
  const l2 = tensor(
    rt,
    Float32Array.from({ length: 50 * 5 }, (_, i) => row[i % 5]),
    [50, 5],
  );
  const greedy = (await pickTokens(l2, { temperature: 0 }).read()) as Float32Array;
  assert.ok(Array.from({ length: 50 }, (_, i) => greedy[2 * i]).every((t) => t === 3));
  l2.dispose();
});

test('infill fills only the mask spans; early stop skips blocks after EOS', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const cfg = createConfig({
    d_model: 16,
    n_heads: 2,
    n_kv_heads: 2,
    n_layers: 1,
    mlp_hidden_size: 16,
    vocab_size: V,
    embedding_size: V,
    init_std: 0.5,
    init_fn: 'normal',
  });
  const m = createModel(cfg, { device: rt, seed: 4 });
  const den = modelDenoiser(m);
  const base: GenerateOptions = {
    steps: 4,
    genLength: 8,
    blockLength: 2,
    temperature: 0,
    remasking: 'low_confidence',
    cfgScale: 0,
    seed: 0,
    maskId: MASK,
    endIds: [EOS],
  };
  const row = [5, MASK, MASK, 7, 8, MASK, 9];
  const r = await infill(den, [row], EOS, 64, { ...base, steps: 3 });
  assert.is(r.outputIds[0].length, row.length);
  row.forEach((t, i) => {
    if (t !== MASK) assert.is(r.outputIds[0][i], t, `position ${i} kept`);
    else assert.is.not(r.outputIds[0][i], MASK, `position ${i} filled`);
  });
  // A denoiser that always predicts EOS with full confidence: the first block ends the row.
  let calls = 0;
  const eosDen = {
    predict(a: { B: number; L: number }) {
      calls++;
      return Promise.resolve({
        tokens: new Int32Array(a.B * a.L).fill(EOS),
        conf: new Float32Array(a.B * a.L).fill(1),
      });
    },
  };
  const e = await generate(eosDen, [[5, 6]], EOS, 64, base);
  assert.is(calls, 1, 'one block of one step... then early stop');
  assert.is(e.outputIds[0][0], EOS);
  const noStop = await generate(eosDen, [[5, 6]], EOS, 64, { ...base, earlyStop: false });
  assert.is(noStop.nfe, 4, 'without early stop every block runs');
  m.dispose();
});

test('bad sampling options are clear errors', async () => {
  const den = { predict: () => Promise.resolve({ tokens: new Int32Array(0), conf: new Float32Array(0) }) };
  const base: GenerateOptions = {
    steps: 4,
    genLength: 8,
    blockLength: 3,
    temperature: 0,
    remasking: 'low_confidence',
    cfgScale: 0,
    seed: 0,
    maskId: MASK,
    endIds: [EOS],
  };
  await generate(den, [[1]], EOS, 64, base).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /not divisible by --block-length/),
  );
  await generate(den, [[1]], EOS, 64, { ...base, blockLength: 8, steps: 3, genLength: 16 }).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /--steps 3 is not divisible by the number of blocks/),
  );
  await generate(den, [[1, 2, 3]], EOS, 8, { ...base, blockLength: 8 }).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /exceeds the model's max_sequence_length 8/),
  );
  await generate(den, [[]], EOS, 64, { ...base, blockLength: 8 }).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /empty/),
  );
  await generate(den, [[1]], EOS, 64, { ...base, blockLength: 8, seed: -1 }).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /seed must be an integer in \[0, 2\^53\), got -1/),
  );
  await generate(den, [[1], [2]], EOS, 64, { ...base, blockLength: 8, seeds: [1] }).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /1 seeds for 2 prompts/),
  );
});

test.after(closeDevice);
test.run();
