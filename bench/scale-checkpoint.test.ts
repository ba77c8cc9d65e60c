// The `bench scale` checkpoint writer without a GPU: the shard plan (property: contiguous, complete,
// the wanted count, and LLaDA-8B's 6 shards balanced), the random values (each matrix's std and
// truncation as the init scheme says, norms 1, tensors independent), reuse only of a complete
// matching folder, rewriting of a half-written one, the free-space refusal that writes nothing,
// and the refusal of a folder holding other files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../engine/errors.ts';
import { parseConfig } from '../model/config.ts';
import { parameterTable } from '../model/names.ts';
import { initStd } from '../model/init.ts';
import { openCheckpointWeights } from '../model/weights-dir.ts';
import { ensureScaleCheckpoint, planShards } from './scale-checkpoint.ts';
import { SCALE_PRESETS } from './scale-presets.ts';
import { fcParams } from '../tests/gpu.ts';

const tmp = mkdtempSync(join(tmpdir(), 'scale-ckpt-'));
const quiet = () => {};
const tiny = SCALE_PRESETS.tiny;
const numel = (s: number[]) => s.reduce((a, d) => a * d, 1);

test('property: shards are contiguous, cover every tensor once, and number min(n, tensors)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 1, max: 8 }),
      (sizes, n) => {
        const g = planShards(sizes, n);
        assert.is(g.length, Math.min(n, sizes.length));
        assert.equal(
          g.flat(),
          sizes.map((_, i) => i),
        );
        for (const part of g) assert.ok(part.length > 0);
      },
    ),
    fcParams(300),
  );
});

test("LLaDA-8B's tensors fall into 6 shards of about 2.7 GB (max/min < 1.1)", () => {
  for (const L of [32, 2]) {
    const table = parameterTable(parseConfig({ ...SCALE_PRESETS['llada-8b'].config, n_layers: L }, 'x'));
    const sizes = table.map((p) => numel(p.shape) * 2);
    const g = planShards(sizes, 6);
    assert.is(g.length, 6);
    const bytes = g.map((p) => p.reduce((a, i) => a + sizes[i], 0));
    if (L === 32) {
      assert.ok(Math.max(...bytes) / Math.min(...bytes) < 1.1, `unbalanced: ${bytes.join(', ')}`);
      assert.ok(Math.abs(bytes.reduce((a, b) => a + b, 0) - 16.03e9) < 0.01e9);
    }
  }
});

test('values: each matrix has its init std and truncation, norms are 1, tensors differ', async () => {
  const dir = join(tmp, 'values');
  const r = await ensureScaleCheckpoint({ preset: tiny, layers: 2, dir, log: quiet });
  assert.is(r.reused, false);
  const cfg = parseConfig({ ...tiny.config, n_layers: 2 }, 'x');
  const w = openCheckpointWeights(dir);
  try {
    const firsts = new Set<number>();
    for (const p of parameterTable(cfg)) {
      const v = w.readTensor(p.name);
      assert.is(w.info(p.name).dtype, 'BF16');
      if (p.shape.length < 2) {
        assert.ok(
          v.every((x) => x === 1),
          `${p.name}: norm weights are 1`,
        );
        continue;
      }
      const { std, cutoff } = initStd(cfg, p);
      let s = 0,
        s2 = 0,
        max = 0;
      for (const x of v) {
        s += x;
        s2 += x * x;
        max = Math.max(max, Math.abs(x));
      }
      const mean = s / v.length,
        sd = Math.sqrt(s2 / v.length - mean * mean);
      // N(0, 1) truncated at 3 std has std 0.9866; sampling error over >= 4096 values is < 2%
      assert.ok(Math.abs(sd / (std * 0.9866) - 1) < 0.05, `${p.name}: std ${sd}, want ${std * 0.9866}`);
      assert.ok(Math.abs(mean) < (4 * std) / Math.sqrt(v.length), `${p.name}: mean ${mean}`);
      assert.ok(max <= cutoff * (1 + 2 ** -8), `${p.name}: |x| up to ${max}, cutoff ${cutoff}`);
      assert.ok(max > 0.8 * cutoff, `${p.name}: the tails are missing (max ${max}, cutoff ${cutoff})`);
      firsts.add(v[0] * 1e6 + v[1]);
    }
    assert.ok(firsts.size > 5, 'tensors start with the same values: streams are not per tensor');
  } finally {
    w.close();
  }
});

test('reuse: a complete matching folder is reused; a damaged or different one is rewritten', async () => {
  const dir = join(tmp, 'reuse');
  await ensureScaleCheckpoint({ preset: tiny, layers: 1, dir, log: quiet });
  assert.is((await ensureScaleCheckpoint({ preset: tiny, layers: 1, dir, log: quiet })).reused, true);
  truncateSync(join(dir, 'model-00003-of-00006.safetensors'), 100); // a crash mid-shard, marker left
  assert.is((await ensureScaleCheckpoint({ preset: tiny, layers: 1, dir, log: quiet })).reused, false);
  assert.is((await ensureScaleCheckpoint({ preset: tiny, layers: 1, dir, log: quiet })).reused, true);
  rmSync(join(dir, 'COMPLETE')); // half-written: no marker
  assert.is((await ensureScaleCheckpoint({ preset: tiny, layers: 1, dir, log: quiet })).reused, false);
  // another depth in the same folder: rewritten, and no shard of the old layout survives
  const r = await ensureScaleCheckpoint({ preset: tiny, layers: 2, dir, log: quiet });
  assert.is(r.reused, false);
  const files = readdirSync(dir).sort();
  assert.equal(files.filter((f) => f.endsWith('.safetensors')).length, 6);
  assert.ok(
    files.includes('COMPLETE') && files.includes('config.json') && files.includes('model.safetensors.index.json'),
  );
});

function expectUserError(p: Promise<unknown>, ...parts: string[]): Promise<void> {
  return p.then(
    () => assert.unreachable('expected a UserError'),
    (e) => {
      assert.instance(e, UserError);
      for (const s of parts) assert.ok((e as Error).message.includes(s), `"${(e as Error).message}" lacks "${s}"`);
    },
  );
}

test('not enough space: one clear error naming need and free, nothing written', async () => {
  const dir = join(tmp, 'full-disk');
  await expectUserError(
    ensureScaleCheckpoint({ preset: tiny, layers: 2, dir, log: quiet, freeBytes: () => 1000 }),
    'not enough free space',
    'needs 1.',
    'MB',
    'has 0.0 MB free',
    '--out',
  );
  assert.not.ok(existsSync(dir), 'a folder was left behind');
  // the same with an old checkpoint in place: its bytes count as free, and it is kept on refusal
  await ensureScaleCheckpoint({ preset: tiny, layers: 1, dir, log: quiet });
  await expectUserError(
    ensureScaleCheckpoint({ preset: tiny, layers: 4, dir, log: quiet, freeBytes: () => 0 }),
    'not enough free space',
  );
  assert.is((await ensureScaleCheckpoint({ preset: tiny, layers: 1, dir, log: quiet })).reused, true);
});

test('a folder with files bench scale did not write is refused and left alone', async () => {
  const dir = join(tmp, 'foreign');
  mkdirSync(dir);
  writeFileSync(join(dir, 'notes.txt'), 'mine');
  await expectUserError(ensureScaleCheckpoint({ preset: tiny, layers: 1, dir, log: quiet }), 'notes.txt', '--out');
  assert.equal(readdirSync(dir), ['notes.txt']);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
