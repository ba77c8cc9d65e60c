// The matmul profile's product list follows the model's parameter table: one forward and two
// backward products per weight matrix (the embedding excepted), k/v at their own width under
// grouped-query attention, the tied head counted once, and in all 6 * rows * (linear parameters) FLOPs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createConfig } from '../model/config.ts';
import { stepProducts } from './train-profile.ts';
import { TRAIN_SHAPES, shapeConfig } from './train.ts';

const flops = (ps: ReturnType<typeof stepProducts>) => ps.reduce((s, p) => s + 2 * p.M * p.K * p.N * p.count, 0);

test('llada-tiny: four weight shapes, three products each, 6 * rows * linear parameters', () => {
  const cfg = shapeConfig(TRAIN_SHAPES.find((s) => s.name === 'llada-tiny')!);
  const ps = stepProducts(cfg, 1024);
  assert.is(ps.length, 12);
  const linear = 4 * (4 * 256 * 256 + 3 * 256 * 768) + 512 * 256;
  assert.is(flops(ps), 6 * 1024 * linear);
  const dW = ps.find((p) => p.what.startsWith('ff_out') && p.what.endsWith('dW'))!;
  assert.equal([dW.M, dW.K, dW.N, dW.transA, dW.count], [256, 1024, 768, true, 4]);
});

test('grouped-query k/v and a tied head', () => {
  const cfg = createConfig({
    d_model: 128,
    n_layers: 2,
    n_heads: 4,
    n_kv_heads: 1,
    mlp_hidden_size: 256,
    vocab_size: 64,
    embedding_size: 64,
    weight_tying: true,
  });
  const ps = stepProducts(cfg, 32);
  const kv = ps.find((p) => p.what.includes('k_proj') && p.what.endsWith('x W^T'))!;
  assert.is(kv.N, 32); // one kv head of 32
  assert.is(kv.count, 4); // k and v in 2 layers
  const head = ps.filter((p) => p.what.includes('lm_head'));
  assert.is(head.length, 3);
  assert.is(head[0].count, 1);
  const linear = 2 * (2 * 128 * 128 + 2 * 32 * 128 + 3 * 128 * 256) + 64 * 128;
  assert.is(flops(ps), 6 * 32 * linear);
});

test.run();
