// The memory plan against the parameter table it must agree with: bytes of the parameters in
// each dtype (vectors f32), the largest parameter, 12 bytes per parameter of gradients and AdamW
// moments for full training, KV cache bytes; and checkPlan refuses exactly what is over a limit,
// with the numbers. Random configs and batches (fast-check; FC_SEED replays).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { UserError } from '../engine/errors.ts';
import { createConfig, headDim, kvHeads } from './config.ts';
import { parameterTable } from './names.ts';
import { checkPlan, memoryPlan, type PlanLimits } from './memory-plan.ts';

const FC = { seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined, numRuns: 200 };
const BIG: PlanLimits = { maxBufferSize: 2 ** 50, maxStorageBufferBindingSize: 2 ** 50, hostFreeBytes: null };
const numel = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);

const configs = fc
  .record({
    heads: fc.integer({ min: 1, max: 4 }),
    headDim: fc.integer({ min: 1, max: 8 }).map((d) => 2 * d),
    kvDiv: fc.constantFrom(1, 2, 4),
    layers: fc.integer({ min: 1, max: 4 }),
    mlp: fc.integer({ min: 1, max: 80 }),
    vocab: fc.integer({ min: 3, max: 300 }),
    tied: fc.boolean(),
  })
  .filter((r) => r.heads % r.kvDiv === 0)
  .map((r) =>
    createConfig({
      d_model: r.heads * r.headDim,
      n_heads: r.heads,
      n_kv_heads: r.heads / r.kvDiv,
      n_layers: r.layers,
      mlp_hidden_size: r.mlp,
      vocab_size: r.vocab,
      embedding_size: r.vocab,
      weight_tying: r.tied,
    }),
  );

test('property: parameter bytes, largest parameter, training and KV bytes agree with the parameter table', () => {
  fc.assert(
    fc.property(
      configs,
      fc.constantFrom('f32', 'bf16', 'f16'),
      fc.integer({ min: 1, max: 9 }),
      fc.integer({ min: 1, max: 50 }),
      (cfg, dtype, B, T) => {
        const table = parameterTable(cfg);
        const w = dtype === 'f32' ? 4 : 2;
        const bytes = table.reduce((s, p) => s + numel(p.shape) * (p.shape.length >= 2 ? w : 4), 0);
        const largest = Math.max(...table.filter((p) => p.shape.length >= 2).map((p) => numel(p.shape) * w));
        const count = table.reduce((s, p) => s + numel(p.shape), 0);
        const plan = memoryPlan({ config: cfg, dtype, rows: B, seq: T, fullTraining: true, kvCacheBytes: 2 }, BIG);
        assert.is(plan.params, count);
        assert.is(plan.paramBytes, bytes);
        assert.is(plan.trainingBytes, 12 * count);
        assert.is(plan.kvCacheBytes, 2 * cfg.n_layers * B * T * kvHeads(cfg) * headDim(cfg) * 2);
        assert.ok(plan.largest.bytes >= largest, 'the largest buffer is at least the largest parameter');
        assert.ok(plan.totalBytes >= bytes + 12 * count + plan.kvCacheBytes);
      },
    ),
    FC,
  );
});

test('checkPlan refuses exactly what is over a limit, with the numbers', () => {
  const cfg = createConfig({ d_model: 32, n_heads: 2, n_kv_heads: 2, n_layers: 1, mlp_hidden_size: 96 });
  const plan = memoryPlan({ config: cfg, dtype: 'f32', rows: 8, seq: 1000, backward: true }, BIG);
  const act = 8 * 1000 * 96 * 4; // the (B*T, F) SwiGLU operand, bound whole
  const refuse = (lim: Partial<PlanLimits>, re: RegExp) => {
    try {
      checkPlan(plan, { ...BIG, ...lim }, 'train', 'lower the batch');
    } catch (e) {
      assert.instance(e, UserError);
      assert.match((e as Error).message, re);
      return;
    }
    assert.unreachable(`expected a refusal matching ${re}`);
  };
  refuse({ maxStorageBufferBindingSize: act - 4 }, /train: an activation of 8 x 1000 tokens x 96 .* lower the batch/);
  refuse({ maxBufferSize: act - 4 }, /an activation of 8 x 1000 tokens x 96 needs .* in one buffer/);
  refuse({ hostFreeBytes: plan.totalBytes - 1 }, /needs about .* GiB \(parameters .*; \d+ parameters\).*host memory/);
  checkPlan(
    plan,
    { ...BIG, maxStorageBufferBindingSize: act, maxBufferSize: act, hostFreeBytes: plan.totalBytes },
    'x',
    '',
  );
});

test.run();
