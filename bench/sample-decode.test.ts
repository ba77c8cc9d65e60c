// Tests for the long-generation decoding the sample bench times: at gen length 128, block 32 and
// one token per step, each setting runs the forwards the Fast-dLLM caches promise (hand-counted
// tokens per forward), decodes all 128 positions (early stop off), and the FLOP count follows them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuDevice, closeDevice } from '../tests/gpu.ts';
import { createConfig, mlpHidden } from '../model/config.ts';
import { createModel } from '../model/io.ts';
import * as D from './sample-decode.ts';

const P = 5;
const L = P + D.GEN_LENGTH;

test('plain, prefix and dual caches evaluate the hand-counted tokens; FLOPs per token follow', async () => {
  const dev = await gpuDevice();
  if (!dev) return;
  const cfg = createConfig({
    d_model: 16,
    n_layers: 1,
    n_heads: 2,
    n_kv_heads: 2,
    mlp_hidden_size: 32,
    vocab_size: 24,
  });
  const model = createModel(cfg, { device: dev, seed: 3 });
  const rows = [
    [5, 6, 7, 8, 9],
    [9, 8, 7, 6, 5],
  ];
  const blocks = D.GEN_LENGTH / D.BLOCK_LENGTH;
  const later = D.BLOCK_LENGTH - 1; // steps of a block after its first, full one
  const want = {
    none: D.GEN_LENGTH * L,
    prefix: blocks * L + [...Array(blocks).keys()].reduce((a, b) => a + later * (L - (P + b * D.BLOCK_LENGTH)), 0),
    dual: blocks * L + blocks * later * D.BLOCK_LENGTH,
  };
  try {
    for (const cache of ['none', 'prefix', 'dual'] as const) {
      const run = D.newRun(model, { name: cache, cache });
      await D.decode(model, run, rows, [cfg.eos_token_id]);
      assert.is(run.nfe, D.GEN_LENGTH, `${cache}: one forward per step`);
      assert.is(run.den.tokensEvaluated, rows.length * want[cache], `${cache}: tokens evaluated`);
      assert.is(run.generated, rows.length * D.GEN_LENGTH);
      assert.ok(
        run.outputs.every((o) => o.length === D.GEN_LENGTH && !o.includes(cfg.mask_token_id)),
        `${cache}: all decoded`,
      );
      // the LM head reads only the block's rows: one block of each row per forward
      assert.is(run.den.headRows, rows.length * D.GEN_LENGTH * D.BLOCK_LENGTH, `${cache}: head rows`);
      const { d_model: C, n_layers: nl, vocab_size: V } = cfg;
      const perForwardToken = 2 * nl * (4 * C * C + 3 * mlpHidden(cfg) * C);
      const flops =
        perForwardToken * run.den.tokensEvaluated + 2 * V * C * run.den.headRows + 4 * C * nl * run.den.attnPairs;
      assert.ok(Math.abs(D.flopsPerToken(model, run) * run.generated - flops) <= 1e-9 * flops);
      run.den.dispose();
    }
  } finally {
    model.dispose();
  }
});

test('token agreement counts equal positions', () => {
  const run = { outputs: [[1, 2, 3, 4]] } as D.Run;
  assert.is(D.tokenAgreement(run, { outputs: [[1, 0, 3, 0]] } as D.Run), 0.5);
});

test.after(closeDevice);
test.run();
