// LLaDA's Monte Carlo log-likelihood: stratified mask counts cover [1, A] evenly, and on a model
// the estimate is negative and a pure function of (seed, example, round).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stratifiedCounts, logLikelihood } from './likelihood.ts';
import { closeDevice, gpuDevice } from '../tests/gpu.ts';
import { createConfig } from '../model/config.ts';
import { createModel } from '../model/io.ts';

test('stratified counts: b values in [1, A], spread A/b apart, wrapping', () => {
  assert.equal(stratifiedCounts(8, 4, 1), [1, 3, 5, 7]);
  assert.equal(stratifiedCounts(8, 4, 7), [7, 1, 3, 5]);
  for (let k = 1; k <= 5; k++) for (const c of stratifiedCounts(5, 16, k)) assert.ok(c >= 1 && c <= 5);
});

test('log-likelihood is negative and reproducible from its seed; other examples draw other masks', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const cfg = createConfig({
    d_model: 16,
    n_heads: 2,
    n_kv_heads: 2,
    n_layers: 1,
    mlp_hidden_size: 16,
    vocab_size: 9,
    embedding_size: 9,
    init_std: 0.5,
    init_fn: 'normal',
  });
  const m = createModel(cfg, { device: rt, seed: 3 });
  const o = { mcNum: 32, batchSize: 8, seed: 5, maskId: cfg.mask_token_id };
  const a = await logLikelihood(m, [3, 4], [5, 6, 7], 0, o);
  const b = await logLikelihood(m, [3, 4], [5, 6, 7], 0, o);
  assert.ok(a < 0, `log-likelihood ${a} < 0`);
  assert.is(a, b, 'same seed, same estimate');
  const c = await logLikelihood(m, [3, 4], [5, 6, 7], 1, o);
  assert.is.not(c, a, 'another example index draws other masks');
  m.dispose();
});

test.after(closeDevice);
test.run();
