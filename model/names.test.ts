// Tests for names.ts: LLaDA-8B's tensor names and [out, in] shapes, the stable order, weight tying
// and grouped-query shapes, and checkWeightsMatch naming what is missing, extra or misshapen.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createConfig } from './config.ts';
import { checkWeightsMatch, parameterTable } from './names.ts';
import { expectUserError } from './model.test-util.ts';

const llada8b = createConfig({
  d_model: 4096,
  n_heads: 32,
  n_kv_heads: 32,
  n_layers: 32,
  mlp_hidden_size: 12288,
  vocab_size: 126464,
  embedding_size: 126464,
  eos_token_id: 126081,
  pad_token_id: 126081,
  mask_token_id: 126336,
});

test('LLaDA-8B: 291 tensors with the Hub names and [out, in] shapes', () => {
  const t = parameterTable(llada8b);
  assert.is(t.length, 1 + 32 * 9 + 2);
  const shape = (n: string) => t.find((p) => p.name === n)?.shape;
  assert.equal(shape('model.transformer.wte.weight'), [126464, 4096]);
  assert.equal(shape('model.transformer.blocks.0.attn_norm.weight'), [4096]);
  assert.equal(shape('model.transformer.blocks.31.q_proj.weight'), [4096, 4096]);
  assert.equal(shape('model.transformer.blocks.31.k_proj.weight'), [4096, 4096]);
  assert.equal(shape('model.transformer.blocks.7.attn_out.weight'), [4096, 4096]);
  assert.equal(shape('model.transformer.blocks.7.ff_norm.weight'), [4096]);
  assert.equal(shape('model.transformer.blocks.7.ff_proj.weight'), [12288, 4096]);
  assert.equal(shape('model.transformer.blocks.7.up_proj.weight'), [12288, 4096]);
  assert.equal(shape('model.transformer.blocks.7.ff_out.weight'), [4096, 12288]);
  assert.equal(shape('model.transformer.ln_f.weight'), [4096]);
  assert.equal(shape('model.transformer.ff_out.weight'), [126464, 4096]);
});

test('order: wte, block 0 in module order, ..., ln_f, ff_out', () => {
  const names = parameterTable(createConfig({ n_layers: 2 })).map((p) => p.name.replace('model.transformer.', ''));
  const block = (i: number) =>
    ['attn_norm', 'q_proj', 'k_proj', 'v_proj', 'attn_out', 'ff_norm', 'ff_proj', 'up_proj', 'ff_out'].map(
      (r) => `blocks.${i}.${r}.weight`,
    );
  assert.equal(names, ['wte.weight', ...block(0), ...block(1), 'ln_f.weight', 'ff_out.weight']);
});

test('grouped-query k/v are n_kv_heads * head_dim rows; tied weights drop ff_out', () => {
  const c = createConfig({ d_model: 64, n_heads: 8, n_kv_heads: 2, weight_tying: true });
  const t = parameterTable(c);
  assert.equal(t.find((p) => p.role === 'k_proj')!.shape, [16, 64]);
  assert.equal(t.find((p) => p.role === 'v_proj')!.shape, [16, 64]);
  assert.is(
    t.find((p) => p.role === 'lm_head'),
    undefined,
  );
  assert.is(t.filter((p) => p.layer === 0).length, 9);
});

test('checkWeightsMatch accepts the exact table and names every mismatch', () => {
  const c = createConfig({ n_layers: 1 });
  const good = new Map(parameterTable(c).map((p) => [p.name, p.shape] as const));
  checkWeightsMatch(c, good, 'ckpt');
  const bad = new Map(good);
  bad.delete('model.transformer.ln_f.weight');
  bad.set('model.transformer.blocks.0.q_proj.weight', [1, 2]);
  bad.set('model.transformer.blocks.0.q_proj.bias', [128]);
  expectUserError(
    () => checkWeightsMatch(c, bad, 'ckpt'),
    'ckpt',
    'missing model.transformer.ln_f.weight',
    'q_proj.weight has shape [1, 2]',
    'unexpected tensor model.transformer.blocks.0.q_proj.bias',
  );
});

test.run();
