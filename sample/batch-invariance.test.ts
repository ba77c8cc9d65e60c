// Sampling is batch-invariant and replayable: one prompt with one seed gives the same tokens alone
// and inside two differently composed, differently padded batches, at temperature 1, with random
// remasking, with CFG and under a threshold; each run also equals the float64 CPU generate() with
// the same keys. The comparisons cannot pass by luck: every compared decision of the CPU run leads
// its runner-up by more than twice the GPU logits' stated error (model tests: atol 1e-4, rtol 1e-4
// against float64), which is itself checked here for a left-padded row.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeDevice, gpuDevice } from '../tests/gpu.ts';
import { lladaForwardRef, type Weights } from '../tests/llada-ref.ts';
import { allclose } from '../kernels/check.ts';
import { createConfig } from '../model/config.ts';
import { createModel } from '../model/io.ts';
import type { LLaDAModel } from '../model/llada.ts';
import { generate, type GenerateOptions } from './generate.ts';
import { modelDenoiser } from './denoiser.ts';
import { cpuGenerate, type RefOptions, type RefStep } from './generate-ref.test-util.ts';

const V = 13,
  MASK = 2,
  EOS = 0;
const LOGIT_TOL = { atol: 1e-4, rtol: 1e-4 };
const A = [5, 7, 3, 9]; // the prompt under test
const N1 = [6, 1, 8, 4, 4, 10],
  N2 = [3],
  N3 = [12, 4, 6, 1, 1, 1, 8, 8];

const cfg = createConfig({
  d_model: 16,
  n_heads: 4,
  n_kv_heads: 2,
  n_layers: 2,
  mlp_hidden_size: 24,
  vocab_size: V,
  embedding_size: V,
  init_fn: 'normal',
  init_std: 0.5,
});

async function weightsOf(m: LLaDAModel): Promise<Weights> {
  const w: Weights = new Map();
  for (const p of m.params.order) w.set(p.name, await m.params.get(p.name).read());
  return w;
}

/**
 * What a decision of a CPU step must lead by so that any run whose logits are within the stated
 * error of float64 makes it too: twice the error of a noised score l / T + g (CFG scales the logit
 * error by up to 1 + 2 cfg; g is within 1e-6 of float64) and of a confidence (a softmax probability
 * moves by at most 2 e).
 */
function decided(s: RefStep, o: RefOptions): string | null {
  const e = (LOGIT_TOL.atol + LOGIT_TOL.rtol * s.maxAbsLogit) * (1 + 2 * o.cfgScale);
  const lead = 2 * (e / (o.temperature || 1) + 1e-5),
    gap = 2 * (2 * e + 1e-6);
  if (!(s.tokenLead > lead)) return `token lead ${s.tokenLead} <= ${lead}`;
  if (!(s.commitGap > gap)) return `commit gap ${s.commitGap} <= ${gap}`;
  return null;
}

/** A's row of x after every step of a GPU run of `prompts` (A at rows `at`), for each of `at`. */
async function runRows(
  m: LLaDAModel,
  prompts: number[][],
  at: number[],
  o: RefOptions,
  seeds?: number[],
): Promise<number[][][]> {
  const P = Math.max(...prompts.map((p) => p.length));
  const rows: number[][][] = at.map(() => []);
  const opts: GenerateOptions = {
    steps: o.steps,
    genLength: o.gen,
    blockLength: o.block,
    temperature: o.temperature,
    remasking: o.remasking,
    cfgScale: o.cfgScale,
    threshold: o.threshold,
    seed: o.seed,
    seeds,
    maskId: MASK,
    endIds: [EOS],
    earlyStop: false,
    onStep: (s) => at.forEach((b, k) => rows[k].push(Array.from(s.x.subarray(b * s.L + P - A.length, (b + 1) * s.L)))),
  };
  const den = modelDenoiser(m);
  await generate(den, prompts, EOS, 64, opts);
  den.dispose();
  return rows;
}

const cases: [string, RefOptions][] = [
  ['temperature 1', { steps: 6, gen: 6, block: 3, cfgScale: 0, temperature: 1, remasking: 'low_confidence', seed: 3 }],
  ['random remasking', { steps: 6, gen: 6, block: 3, cfgScale: 0, temperature: 0, remasking: 'random', seed: 5 }],
  [
    'temperature 1, random remasking, CFG 1.5',
    { steps: 4, gen: 6, block: 3, cfgScale: 1.5, temperature: 1, remasking: 'random', seed: 8 },
  ],
  [
    'temperature 1 under threshold 0.3',
    { steps: 6, gen: 6, block: 3, cfgScale: 0, temperature: 1, remasking: 'low_confidence', seed: 1, threshold: 0.3 },
  ],
];

for (const [name, o] of cases) {
  test(`a prompt samples the same tokens alone and in two padded batches (${name})`, async () => {
    const rt = await gpuDevice();
    if (!rt) return;
    const m = createModel(cfg, { device: rt, seed: 21 });
    const w = await weightsOf(m);
    const want = cpuGenerate(cfg, w, A, o, MASK);
    want.forEach((s, i) => {
      const why = decided(s, o);
      assert.ok(!why, `CPU step ${i}: ${why}: the comparison could pass or fail by rounding; pick another seed`);
    });
    const final = want[want.length - 1].x;
    const [alone] = await runRows(m, [A], [0], o);
    // A left-padded by 2 at row 1; by 4 at rows 0 and 3 beside other prompts, row 0 with seed + 1
    const [b1] = await runRows(m, [N1, A], [1], o);
    const [b2, other] = await runRows(m, [N3, A, N2, A], [3, 1], o, [o.seed, o.seed + 1, o.seed, o.seed]);
    for (const [run, rows] of [
      ['alone', alone],
      ['batch [N1, A]', b1],
      ['batch [N3, A (seed + 1), N2, A]', b2],
    ] as const) {
      if (o.threshold === undefined) {
        assert.is(rows.length, want.length, `${run}: steps`);
        rows.forEach((x, i) => assert.equal(x, want[i].x, `${run}, step ${i}`));
      } else assert.equal(rows[rows.length - 1], final, `${run}: output`);
    }
    // another choice of the same prompt (seed + 1) is its own replayable sample
    const wantOther = cpuGenerate(cfg, w, A, { ...o, seed: o.seed + 1 }, MASK);
    assert.ok(
      wantOther.every((s) => !decided(s, o)),
      'seed + 1: a CPU step is undecided; pick another seed',
    );
    assert.equal(other[other.length - 1], wantOther[wantOther.length - 1].x, 'seed + 1 row');
    if (o.temperature > 0) assert.not.equal(wantOther[wantOther.length - 1].x, final, 'seed + 1 gives another sample');
    m.dispose();
  });
}

test('a cancelled row leaves the batch: later forwards skip it, the others sample what they would have', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const m = createModel(cfg, { device: rt, seed: 21 });
  const o: RefOptions = {
    steps: 6,
    gen: 6,
    block: 3,
    cfgScale: 0,
    temperature: 1,
    remasking: 'low_confidence',
    seed: 3,
  };
  const w = await weightsOf(m);
  const want = cpuGenerate(cfg, w, A, o, MASK);
  assert.ok(
    want.every((s) => !decided(s, o)),
    'a CPU step is undecided; pick another seed',
  );
  // prompts N1, A, N3 (lengths 6, 4, 8: P = 8, L = 14); N1 leaves after the second step
  const prompts = [N1, A, N3];
  const seen: number[][] = [];
  let nfe = 0,
    n1AtCancel: number[] = [];
  const den = modelDenoiser(m);
  const r = await generate(den, prompts, EOS, 64, {
    steps: o.steps,
    genLength: o.gen,
    blockLength: o.block,
    temperature: o.temperature,
    remasking: o.remasking,
    cfgScale: 0,
    seed: o.seed,
    maskId: MASK,
    endIds: [EOS],
    earlyStop: false,
    cancelled: (p) => p === 0 && nfe >= 2,
    onStep: (s) => {
      nfe = s.nfe;
      seen.push([...s.rows]);
      const b = s.rows.indexOf(1);
      assert.equal(Array.from(s.x.subarray(b * s.L + 4, (b + 1) * s.L)), want[s.nfe - 1].x, `A at step ${s.nfe}`);
      if (s.rows.includes(0)) n1AtCancel = Array.from(s.x.subarray(8, 14));
    },
  });
  den.dispose();
  assert.equal(seen, [
    [0, 1, 2],
    [0, 1, 2],
    [1, 2],
    [1, 2],
    [1, 2],
    [1, 2],
  ]);
  // 2 forwards of 3 rows, then 4 of 2 rows (14 tokens each); N1 keeps what it had committed
  assert.is(den.tokensEvaluated, 14 * (2 * 3 + 4 * 2));
  assert.equal(r.outputIds[0], n1AtCancel);
  assert.is(r.outputIds[0].filter((t) => t === MASK).length, 4, 'N1 left with 2 of its 6 positions filled');
  assert.equal(r.outputIds[1], want[want.length - 1].x.slice(4));
  assert.is(r.outputIds[2].length, 6);
  m.dispose();
});

test('a left-padded row has its unpadded logits within the stated error', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const m = createModel(cfg, { device: rt, seed: 21 });
  const w = await weightsOf(m);
  const x = [...A, MASK, MASK, MASK];
  const padded = [0, 0, 0, 0, ...x];
  const got = await m.logits([[...N3, MASK, MASK, MASK], padded], {
    attentionMask: [new Array(11).fill(1), padded.map((_, i) => (i < 4 ? 0 : 1))],
  });
  allclose(got.subarray(11 * V + 4 * V), lladaForwardRef(cfg, w, x, 1, x.length), LOGIT_TOL, 'padded row');
  m.dispose();
});

test.after(closeDevice);
test.run();
