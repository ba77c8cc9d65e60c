// Checkpoints stream: while a ~200 MB checkpoint loads in 2 MiB chunks, the host ArrayBuffers in
// use (process.memoryUsage().arrayBuffers) grow by a few chunks, far less than its largest tensor
// (24 MB); a checkpoint that cannot fit the adapter (maxBufferSize lowered through
// openDevice({ limits })) is refused before anything is allocated, with what it needs and what
// there is; tensors that disagree with config.json and a truncated shard are one-line UserErrors
// that name the tensor or the file. The checkpoint is written with lazily produced tensors, so
// writing it never holds it whole either; saving reads parameters back in ranges. A NaN or infinite
// weight is refused at load, naming the tensor.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDevice, gpuDevice } from '../tests/gpu.ts';
import { openDevice } from '../engine/device.ts';
import { UserError } from '../engine/errors.ts';
import { createConfig } from './config.ts';
import { saveConfig } from './config-file.ts';
import { parameterTable } from './names.ts';
import { saveShardedWeights, shardFileName } from './weights-dir.ts';
import { loadModel, saveModel } from './io.ts';

const dir = mkdtempSync(join(tmpdir(), 'load-mem-'));
const cfg = createConfig({
  d_model: 1024,
  n_heads: 8,
  n_kv_heads: 8,
  n_layers: 4,
  mlp_hidden_size: 2816,
  vocab_size: 6000,
  embedding_size: 6000,
});
const table = parameterTable(cfg);
const numel = (s: number[]) => s.reduce((a, d) => a * d, 1);
const largest = Math.max(...table.map((p) => numel(p.shape))) * 4;
const total = table.reduce((s, p) => s + numel(p.shape) * 4, 0);

test.before(async () => {
  saveConfig(dir, cfg);
  await saveShardedWeights(
    dir,
    table.map((p, i) => ({ name: p.name, shape: p.shape, data: () => new Float32Array(numel(p.shape)).fill(i / 100) })),
    { dtype: 'F32', maxShardBytes: 64 << 20 },
  );
});

/** Assert that `p` rejects with a one-line UserError matching every pattern. */
async function rejectsUser(p: Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, UserError, `${(e as Error).message} should be a UserError`);
    const msg = (e as Error).message;
    assert.not.match(msg, /\n/, 'one line');
    for (const re of patterns) assert.match(msg, re);
    return;
  }
  assert.unreachable('expected a UserError');
}

test('a 200 MB checkpoint loads in 2 MiB chunks with host memory growing by a few chunks', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  assert.ok(total > 190e6, `checkpoint is ${(total / 1e6).toFixed(0)} MB`);
  const chunk = 2 << 20;
  (globalThis as { gc?: () => void }).gc?.();
  const base = process.memoryUsage().arrayBuffers;
  let peak = 0,
    last = { bytes: 0, total: 0 };
  const model = await loadModel(dir, {
    device: rt,
    chunkBytes: chunk,
    onProgress: (p) => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
      last = p;
    },
  });
  try {
    assert.equal([last.bytes, last.total], [total, total], 'progress counts every byte');
    const name = 'model.transformer.blocks.3.up_proj.weight';
    const w = (await model.params.get(name).read()) as Float32Array;
    const want = Math.fround(table.findIndex((p) => p.name === name) / 100);
    assert.ok(w[0] === want && w[w.length - 1] === want, 'values arrived, first and last chunk');
    console.log(
      `load memory: arrayBuffers grew ${(peak / 2 ** 20).toFixed(1)} MiB (2 MiB chunks), largest tensor ` +
        `${(largest / 2 ** 20).toFixed(1)} MiB, checkpoint ${(total / 2 ** 20).toFixed(0)} MiB`,
    );
    assert.ok(peak < 6 * chunk, `arrayBuffers grew ${peak} bytes, over 6 chunks of ${chunk}`);

    // Saving streams the parameters back in ranges and round-trips them.
    const out = join(dir, 'saved');
    await saveModel(model, out, { maxShardBytes: 64 << 20 });
    const again = await loadModel(out, { device: rt });
    assert.equal(Array.from((await again.params.get(name).read()).subarray(0, 4)), Array.from(w.subarray(0, 4)));
    again.dispose();
    rmSync(out, { recursive: true, force: true });
  } finally {
    model.dispose();
  }
});

test('a checkpoint that cannot fit the adapter is refused before allocating, with the sizes', async () => {
  if (!(await gpuDevice())) return;
  // f32 parameters live in arena chunks and each weight matrix fits one, so the buffer limit
  // refuses only a model whose largest parameter (23.4 MiB here) is over it.
  const small = await openDevice({ limits: { maxBufferSize: 16 << 20 } });
  try {
    await rejectsUser(loadModel(dir, { device: small }), /needs 0\.\d+ GiB in f32/, /allows 0\.02 GiB per buffer/);
    assert.is(small.stats.dispatches, 0);
  } finally {
    await small.destroy();
  }
});

test('tensors that disagree with config.json, and a truncated shard, are one-line user errors', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const bad = mkdtempSync(join(tmpdir(), 'load-bad-'));
  try {
    // config.json says a wider MLP than the weights have
    const conf = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...conf, mlp_hidden_size: 3000 }));
    for (const f of ['model.safetensors.index.json', shardFileName(0, 4), shardFileName(1, 4), shardFileName(2, 4)]) {
      writeFileSync(join(bad, f), readFileSync(join(dir, f)));
    }
    writeFileSync(join(bad, shardFileName(3, 4)), readFileSync(join(dir, shardFileName(3, 4))));
    await rejectsUser(
      loadModel(bad, { device: rt }),
      /weights do not match config\.json/,
      /blocks\.0\.ff_proj\.weight has shape \[2816, 1024\], the config needs \[3000, 1024\]/,
    );
    // the right config, a shard cut short
    writeFileSync(join(bad, 'config.json'), JSON.stringify(conf));
    const shard = join(bad, shardFileName(2, 4));
    truncateSync(shard, statSync(shard).size - 1000);
    await rejectsUser(loadModel(bad, { device: rt }), new RegExp(shardFileName(2, 4)), /run past the data section/);
  } finally {
    rmSync(bad, { recursive: true, force: true });
  }
});

test('a NaN or infinite weight is refused at load with the tensor name (f32 and bf16 files)', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const small = createConfig({ d_model: 16, n_heads: 2, n_kv_heads: 2, n_layers: 1, mlp_hidden_size: 16 });
  const bad = mkdtempSync(join(tmpdir(), 'load-nan-'));
  try {
    saveConfig(bad, small);
    const target = 'model.transformer.blocks.0.ff_proj.weight';
    for (const [dtype, value] of [
      ['F32', NaN],
      ['BF16', -Infinity],
      ['BF16', NaN],
    ] as const) {
      await saveShardedWeights(
        bad,
        parameterTable(small).map((p) => ({
          name: p.name,
          shape: p.shape,
          data: () => {
            const a = new Float32Array(numel(p.shape)).fill(0.01);
            if (p.name === target) a[37] = value;
            return a;
          },
        })),
        { dtype },
      );
      await rejectsUser(
        loadModel(bad, { device: rt }),
        /blocks\.0\.ff_proj\.weight holds NaN or infinity \(element 37\)/,
      );
    }
  } finally {
    rmSync(bad, { recursive: true, force: true });
  }
});

test.after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await closeDevice();
});
test.run();
