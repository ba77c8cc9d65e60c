// PEFT adapter files and LoRA module selection, on the host (no GPU): our adapter_config.json and
// tensor names against a fixture written to PEFT's documented layout; adapters from elsewhere
// (rank_pattern, alpha_pattern, use_rslora, list target_modules) read with PEFT's rules; refusals
// (DoRA, modules_to_save, bias, wrong shapes, missing config) as one-line UserErrors; NeMo's
// wildcard rules over LLaDA's module paths, never the embedding or the LM head.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConfig } from './config.ts';
import { LLADA_8B_BASE_CONFIG } from './llada-8b-config.ts';
import { blockLinears, selectNemoTargets, targetRegex, peftTargets } from './lora-match.ts';
import { adapterConfigFor, readPeftAdapter, writePeftAdapter, type AdapterConfig } from './peft.ts';
import { SafetensorsFile } from './safetensors.ts';
import { expectUserError, fcOptions, scratchDir } from './model.test-util.ts';

const fixture = JSON.parse(
  readFileSync(new URL('../tests/fixtures/peft-lora-layout.json', import.meta.url), 'utf8'),
) as { files: string[]; adapter_config: AdapterConfig; tensors: Record<string, number[]> };
const tiny = createConfig({
  d_model: 8,
  n_layers: 2,
  n_heads: 2,
  mlp_hidden_size: 12,
  vocab_size: 16,
  embedding_size: 16,
});

async function writeAdapter(dir: string, cfg: AdapterConfig, mods: { path: string; A: number[]; B: number[] }[]) {
  await writePeftAdapter(
    dir,
    cfg,
    mods.map((m) => ({
      path: m.path,
      A: m.A,
      B: m.B,
      read: (ab) => Promise.resolve(new Float32Array((ab === 'A' ? m.A : m.B).reduce((a, d) => a * d, 1)).fill(0.5)),
    })),
  );
}

test('adapter files carry PEFT names and config keys (fixture of PEFT layout, LLaDA-8B shapes)', async () => {
  const cfg = createConfig(LLADA_8B_BASE_CONFIG);
  const mods = blockLinears(cfg).filter((m) => m.layer === 0 && (m.name === 'q_proj' || m.name === 'v_proj'));
  const dir = scratchDir('peft');
  const conf = adapterConfigFor(mods, { r: 8, alpha: 16, dropout: 0.05, base: 'GSAI-ML/LLaDA-8B-Base' });
  await writeAdapter(
    dir,
    conf,
    mods.map((m) => ({ path: m.path, A: [8, m.inF], B: [m.outF, 8] })),
  );
  const written = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(written, fixture.adapter_config);
  const f = SafetensorsFile.open(join(dir, 'adapter_model.safetensors'));
  const shapes = Object.fromEntries(f.names().map((n) => [n, f.info(n).shape]));
  assert.equal(shapes, fixture.tensors);
  assert.ok(f.tensors().every((t) => t.dtype === 'F32'));
  f.close();
  const back = readPeftAdapter(dir, cfg);
  assert.equal(
    back.modules.map((m) => [m.path, m.rank, m.scale]),
    mods.map((m) => [m.path, 8, 2]),
  );
});

test('target_modules regex matches exactly the adapted modules (any subset)', () => {
  const all = blockLinears(tiny);
  fc.assert(
    fc.property(fc.subarray(all, { minLength: 1 }), (subset) => {
      const re = targetRegex(subset);
      const chosen = all.filter((m) => peftTargets(re, m.path)).map((m) => m.path);
      assert.equal(
        chosen,
        subset.map((m) => m.path),
      );
      assert.not.ok(peftTargets(re, 'model.transformer.ff_out') || peftTargets(re, 'model.transformer.wte'));
    }),
    fcOptions(100),
  );
});

test('PEFT adapters from elsewhere: rank_pattern, alpha_pattern, use_rslora and list target_modules honoured', async () => {
  const dir = scratchDir('peft-ext');
  const conf: AdapterConfig = {
    ...fixture.adapter_config,
    r: 4,
    lora_alpha: 8,
    target_modules: ['q_proj', 'v_proj'],
    rank_pattern: { q_proj: 2 },
    alpha_pattern: { 'blocks.1.v_proj': 2 },
    use_rslora: true,
  };
  const mods = [
    { path: 'model.transformer.blocks.0.q_proj', A: [2, 8], B: [8, 2] },
    { path: 'model.transformer.blocks.1.v_proj', A: [4, 8], B: [8, 4] },
  ];
  await writeAdapter(dir, conf, mods);
  const got = readPeftAdapter(dir, tiny).modules.map((m) => [m.path, m.rank, m.scale]);
  assert.equal(got, [
    ['model.transformer.blocks.0.q_proj', 2, 8 / Math.sqrt(2)],
    ['model.transformer.blocks.1.v_proj', 4, 2 / Math.sqrt(4)],
  ]);
});

test('refused adapters: DoRA, modules_to_save, bias, another base, no adapter_config.json', async () => {
  const mods = [{ path: 'model.transformer.blocks.0.q_proj', A: [4, 8], B: [8, 4] }];
  const cases: [Partial<AdapterConfig>, string][] = [
    [{ use_dora: true }, 'DoRA'],
    [{ modules_to_save: ['lm_head'] }, 'modules_to_save'],
    [{ bias: 'all' }, 'bias'],
  ];
  for (const [change, needle] of cases) {
    const dir = scratchDir('peft-bad');
    await writeAdapter(dir, { ...fixture.adapter_config, r: 4, target_modules: ['q_proj'], ...change }, mods);
    expectUserError(() => readPeftAdapter(dir, tiny), needle);
  }
  const other = scratchDir('peft-other');
  await writeAdapter(other, { ...fixture.adapter_config, r: 4, target_modules: ['q_proj'] }, [
    { path: 'model.transformer.blocks.0.q_proj', A: [4, 16], B: [16, 4] },
  ]);
  const e = expectUserError(() => readPeftAdapter(other, tiny), 'another base');
  assert.not.ok(e.message.includes('\n'));
  const empty = scratchDir('peft-none');
  writeFileSync(join(empty, 'adapter_model.safetensors'), '');
  expectUserError(() => readPeftAdapter(empty, tiny), 'no adapter_config.json');
});

test("NeMo's wildcard rules: *.x over block linears, never the LM head; unknown names list the valid ones", () => {
  const sel = (p: Partial<Parameters<typeof selectNemoTargets>[1]>) =>
    selectNemoTargets(tiny, { target_modules: [], exclude_modules: [], match_all_linear: false, ...p }).map((m) =>
      m.path.replace('model.transformer.blocks.', ''),
    );
  assert.equal(sel({ target_modules: ['*.ff_out'] }), ['0.ff_out', '1.ff_out']);
  assert.equal(sel({ target_modules: ['*.blocks.1.*.v_proj', '*.att_proj'] }), ['1.v_proj']);
  assert.equal(sel({}), [
    '0.q_proj',
    '0.k_proj',
    '0.v_proj',
    '0.ff_proj',
    '0.up_proj',
    '1.q_proj',
    '1.k_proj',
    '1.v_proj',
    '1.ff_proj',
    '1.up_proj',
  ]);
  assert.equal(sel({ exclude_modules: ['*_proj'] }), ['0.attn_out', '0.ff_out', '1.attn_out', '1.ff_out']);
  assert.equal(sel({ match_all_linear: true }).length, 14);
  expectUserError(
    () => sel({ target_modules: ['*.o_proj'] }),
    '"*.o_proj" matches no module',
    'q_proj, k_proj, v_proj, attn_out',
  );
  expectUserError(() => sel({ target_modules: ['q_proj'] }), 'did you mean "*.q_proj"');
  expectUserError(() => sel({ target_modules: ['model.transformer.ff_out'] }), 'LM head');
});

test.run();
