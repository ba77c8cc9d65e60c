// Tests for config.ts: LLaDA-8B-Base's published config.json parses to the values it states (and a
// hand-computed parameter count), every unsupported value is refused with a message naming the
// file, the field and the value, absent fields take LLaDA's defaults, and configToJson round-trips.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  configToJson,
  createConfig,
  headDim,
  kvHeads,
  mlpHidden,
  paramCount,
  parseConfig,
  type ModelConfig,
} from './config.ts';
import { loadConfig, saveConfig } from './config-file.ts';
import { parameterTable } from './names.ts';
import { LLADA_8B_BASE_CONFIG } from './llada-8b-config.ts';
import { expectUserError, fcOptions, scratchDir } from './model.test-util.ts';

// GSAI-ML/LLaDA-8B-Base config.json, field values as published on the Hub.
const LLADA_8B_BASE = LLADA_8B_BASE_CONFIG;
const SRC = '/models/LLaDA-8B-Base/config.json';
const with_ = (o: Record<string, unknown>) => ({ ...LLADA_8B_BASE, ...o });
const without = (key: string) => Object.fromEntries(Object.entries(LLADA_8B_BASE).filter(([k]) => k !== key));

test('LLaDA-8B-Base parses with its published values', () => {
  const c = parseConfig(LLADA_8B_BASE, SRC);
  assert.is(c.d_model, 4096);
  assert.is(c.n_layers, 32);
  assert.is(headDim(c), 128);
  assert.is(kvHeads(c), 32);
  assert.is(mlpHidden(c), 12288);
  assert.is(c.vocab_size, 126464);
  assert.is(c.rope_theta, 500000);
  assert.is(c.rms_norm_eps, 1e-5);
  assert.is(c.mask_token_id, 126336);
  assert.is(c.eos_token_id, 126081);
  assert.is(c.init_fn, 'mitchell');
  // 2 * 126464 * 4096 (wte, ff_out) + 32 * (2*4096 + 4 * 4096^2 + 3 * 12288 * 4096) + 4096 (ln_f)
  assert.is(paramCount(c), 8_015_581_184);
});

const refusals: [string, unknown, string][] = [
  ['alibi', true, 'RoPE'],
  ['rope', false, 'RoPE'],
  ['include_bias', true, 'no bias'],
  ['include_qkv_bias', true, 'no bias'],
  ['block_type', 'sequential', '"llama"'],
  ['block_type', 'parallel', '"llama"'],
  ['layer_norm_type', 'default', '"rms"'],
  ['layer_norm_type', 'gemma_rms', '"rms"'],
  ['activation_type', 'gelu', '"silu"'],
  ['activation_type', 'swiglu', 'halve'],
  ['attention_layer_norm', true, 'q/k'],
  ['input_emb_norm', true, 'scaling'],
  ['layer_norm_with_affine', false, 'weight'],
  ['bias_for_layer_norm', true, 'no bias'],
  ['block_group_size', 2, 'rename'],
  ['clip_qkv', 8, 'null'],
  ['rope_scaling', { type: 'linear', factor: 2 }, 'null'],
  ['model_type', 'dream', '"llada"'],
  ['architectures', ['DreamModel'], 'LLaDAModelLM'],
  ['n_heads', 33, 'divisible'],
  ['n_kv_heads', 5, 'divisible'],
  ['multi_query_attention', true, 'conflicts with n_kv_heads = 32'],
  ['embedding_size', 1000, '>= vocab_size'],
  ['mask_token_id', 126464, 'embedding rows'],
  ['d_model', '4096', 'integer'],
  ['d_model', 4096.5, 'integer'],
  ['n_layers', 0, 'integer >= 1'],
  ['rope_theta', -1, 'positive'],
  ['rms_norm_eps', 0, 'positive'],
  ['weight_tying', 'no', 'true or false'],
  ['init_fn', 'xavier', '"mitchell"'],
  ['attention_dropout', 1.5, '[0, 1)'],
];

for (const [field, value, why] of refusals) {
  test(`refuses ${field} = ${JSON.stringify(value)}`, () => {
    expectUserError(() => parseConfig(with_({ [field]: value }), SRC), SRC, `"${field}"`, JSON.stringify(value), why);
  });
}

test('odd head dim is refused (RoPE rotates pairs)', () => {
  expectUserError(
    () => parseConfig(with_({ d_model: 96, n_heads: 32, n_kv_heads: 32 }), SRC),
    SRC,
    'n_heads',
    'head dim',
    '3',
    'even',
  );
});

test("absent fields take LLaDA's defaults, and a refused default says so", () => {
  const c = parseConfig(without('rope_theta'), SRC);
  assert.is(c.rope_theta, 10000);
  assert.is(parseConfig(without('init_std'), SRC).init_std, 0.02);
  assert.is(parseConfig(without('n_kv_heads'), SRC).n_kv_heads, null);
  assert.is(kvHeads(parseConfig(without('n_kv_heads'), SRC)), 32);
  expectUserError(
    () => parseConfig(without('rope'), SRC),
    '"rope"',
    'false',
    "LLaDA's default when the field is absent",
  );
  expectUserError(() => parseConfig(without('activation_type'), SRC), '"activation_type"', 'swiglu', 'default');
  expectUserError(
    () => parseConfig(without('embedding_size'), SRC),
    '"embedding_size"',
    '50304',
    'default',
    '>= vocab_size',
  );
});

test('multi_query_attention without n_kv_heads means one key/value head', () => {
  const c = parseConfig(with_({ n_kv_heads: null, multi_query_attention: true }), SRC);
  assert.is(kvHeads(c), 1);
  assert.is(parameterTable(c).find((p) => p.name.endsWith('blocks.0.k_proj.weight'))!.shape[0], 128);
});

test('not an object is refused', () => {
  expectUserError(() => parseConfig([1, 2], SRC), SRC, 'JSON object');
  expectUserError(() => parseConfig(null, SRC), SRC, 'JSON object');
});

test('configToJson writes what transformers needs, sorted, and parses back to the same config', () => {
  const c = parseConfig(LLADA_8B_BASE, SRC);
  const j = configToJson(c, { torchDtype: 'bfloat16' });
  assert.equal(Object.keys(j), [...Object.keys(j)].sort());
  assert.is(j.model_type, 'llada');
  assert.equal(j.architectures, ['LLaDAModelLM']);
  assert.equal(j.auto_map, LLADA_8B_BASE.auto_map);
  assert.is(j.torch_dtype, 'bfloat16');
  assert.equal(parseConfig(j, 'x'), c);
  for (const [k, v] of Object.entries(LLADA_8B_BASE)) if (k !== 'transformers_version') assert.equal(j[k], v, k);
});

const arbConfig: fc.Arbitrary<ModelConfig> = fc
  .record({
    heads: fc.integer({ min: 1, max: 8 }),
    group: fc.integer({ min: 1, max: 4 }),
    halfHead: fc.integer({ min: 1, max: 16 }),
    layers: fc.integer({ min: 1, max: 4 }),
    hidden: fc.integer({ min: 1, max: 300 }),
    vocab: fc.integer({ min: 3, max: 500 }),
    pad: fc.integer({ min: 0, max: 64 }),
    tied: fc.boolean(),
    theta: fc.double({ min: 1, max: 1e6, noNaN: true }),
  })
  .map((r) =>
    createConfig({
      d_model: r.heads * r.group * 2 * r.halfHead,
      n_heads: r.heads * r.group,
      n_kv_heads: r.heads,
      n_layers: r.layers,
      mlp_hidden_size: r.hidden,
      vocab_size: r.vocab,
      embedding_size: r.vocab + r.pad,
      weight_tying: r.tied,
      rope_theta: r.theta,
    }),
  );

test('property: configToJson -> parseConfig is the identity; paramCount = sum of the table', () => {
  fc.assert(
    fc.property(arbConfig, (c) => {
      assert.equal(parseConfig(JSON.parse(JSON.stringify(configToJson(c))), 'x'), c);
      const total = parameterTable(c).reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
      assert.is(paramCount(c), total);
    }),
    fcOptions(200),
  );
});

test('createConfig: valid defaults, overrides validated like a file', () => {
  const c = createConfig();
  assert.is(c.block_type, 'llama');
  assert.is(c.mlp_hidden_size, 3 * c.d_model);
  assert.is(createConfig({ d_model: 64 }).mlp_hidden_size, 192);
  expectUserError(() => createConfig({ n_heads: 3 }), 'createConfig', 'n_heads', 'divisible');
  expectUserError(() => createConfig({ alibi: true } as unknown as Partial<ModelConfig>), 'createConfig', 'alibi');
});

test('saveConfig / loadConfig round trip; a broken file names itself', () => {
  const dir = scratchDir('config');
  const c = createConfig({ vocab_size: 40 });
  saveConfig(dir, c);
  assert.equal(loadConfig(dir), c);
  writeFileSync(join(dir, 'config.json'), '{"d_model": ');
  expectUserError(() => loadConfig(dir), join(dir, 'config.json'), 'JSON');
  expectUserError(() => loadConfig(join(dir, 'nope')), 'nope', 'cannot read');
});

test.run();
