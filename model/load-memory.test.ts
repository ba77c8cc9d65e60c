// Loading streams: while a ~200 MB checkpoint loads, the host ArrayBuffers in use
// (process.memoryUsage().arrayBuffers) stay under 3x its largest tensor. The checkpoint is written
// with lazily produced tensors, so writing it never holds it whole either.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDevice, gpuDevice } from '../tests/gpu.ts';
import { createConfig, saveConfig } from './config.ts';
import { parameterTable } from './names.ts';
import { saveShardedWeights } from './weights-dir.ts';
import { loadModel } from './io.ts';

test('a 200 MB checkpoint loads with host ArrayBuffers under 3x its largest tensor', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const dir = mkdtempSync(join(tmpdir(), 'load-mem-'));
  try {
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
    const largest = Math.max(...table.map((p) => p.shape.reduce((a, d) => a * d, 1))) * 4;
    saveConfig(dir, cfg);
    await saveShardedWeights(
      dir,
      table.map((p, i) => ({
        name: p.name,
        shape: p.shape,
        data: () => new Float32Array(p.shape.reduce((a, d) => a * d, 1)).fill(i / 100),
      })),
      { dtype: 'F32', maxShardBytes: 64 << 20 },
    );
    const total = table.reduce((s, p) => s + p.shape.reduce((a, d) => a * d, 1) * 4, 0);
    assert.ok(total > 190e6, `checkpoint is ${(total / 1e6).toFixed(0)} MB`);
    (globalThis as { gc?: () => void }).gc?.();
    let peak = 0;
    const model = await loadModel(dir, {
      device: rt,
      onTensor: () => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)),
    });
    const w = (await model.params.get('model.transformer.blocks.3.up_proj.weight').read()) as Float32Array;
    assert.is(
      w[0],
      Math.fround(table.findIndex((p) => p.name === 'model.transformer.blocks.3.up_proj.weight') / 100),
      'values arrived',
    );
    model.dispose();
    console.log(
      `load memory: peak arrayBuffers ${(peak / 2 ** 20).toFixed(1)} MiB, largest tensor ${(largest / 2 ** 20).toFixed(1)} MiB, checkpoint ${(total / 2 ** 20).toFixed(0)} MiB, 64 MiB shards`,
    );
    assert.ok(peak < 3 * largest, `peak arrayBuffers ${peak} >= 3 x largest tensor ${largest}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.after(closeDevice);
test.run();
