// Tests for weights-dir.ts: sharded saves read back equal to a single-file save, shard packing and
// the index as transformers writes it, stale files of the other layout removed, and the index
// failures (missing shard, tensor absent from its shard, paths outside the directory) refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConfig } from './config.ts';
import { parameterTable } from './names.ts';
import { openCheckpointWeights, saveShardedWeights, type CheckpointWeights } from './weights-dir.ts';
import { expectUserError, expectUserErrorAsync, scratchDir } from './model.test-util.ts';

/** model.safetensors.index.json as the tests read it back (Hugging Face's sharded layout). */
interface IndexJson {
  metadata: { total_size: number };
  weight_map: Record<string, string>;
}
const readIndex = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as IndexJson;

const cfg = createConfig({ d_model: 16, n_heads: 2, n_layers: 2, vocab_size: 20 });
let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const tensors = parameterTable(cfg).map((p) => ({
  name: p.name,
  shape: p.shape,
  data: Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, rand),
}));

function readAll(w: CheckpointWeights): Map<string, number[]> {
  return new Map(w.names().map((n) => [n, Array.from(w.readTensor(n))]));
}

test('sharded save reads back exactly like a single-file save', async () => {
  const one = scratchDir('single');
  const many = scratchDir('sharded');
  const files1 = await saveShardedWeights(one, tensors);
  const filesN = await saveShardedWeights(many, tensors, { maxShardBytes: 2000 });
  assert.equal(files1, [join(one, 'model.safetensors')]);
  assert.ok(filesN.length > 3, `${filesN.length} files`);
  const a = openCheckpointWeights(one);
  const b = openCheckpointWeights(many);
  assert.equal([...b.names()].sort(), [...a.names()].sort());
  assert.equal(readAll(b), readAll(a));
  for (const t of tensors) assert.equal(Array.from(a.readTensor(t.name)), Array.from(t.data));
  assert.equal(b.info(tensors[0].name).shape, tensors[0].shape);
  expectUserError(
    () => b.readTensor('model.transformer.nope'),
    'model.safetensors.index.json',
    '"model.transformer.nope"',
  );
  expectUserError(() => a.info('nope'), join(one, 'model.safetensors'), '"nope"');
  a.close();
  b.close();
});

test('packing is greedy in table order; index has total_size and a sorted weight_map', async () => {
  const d = scratchDir('pack');
  const ts = [
    { name: 'c', shape: [100], data: new Float32Array(100) }, // 400 bytes
    { name: 'a', shape: [100], data: new Float32Array(100) }, // 400: 800 <= 1000, same shard
    { name: 'b', shape: [300], data: new Float32Array(300) }, // 1200: larger than the cap, own shard
    { name: 'd', shape: [10], data: new Float32Array(10) }, // 40: new shard after b
  ];
  await saveShardedWeights(d, ts, { maxShardBytes: 1000 });
  const index = readIndex(join(d, 'model.safetensors.index.json'));
  assert.equal(index, {
    metadata: { total_size: 2040 },
    weight_map: {
      a: 'model-00001-of-00003.safetensors',
      b: 'model-00002-of-00003.safetensors',
      c: 'model-00001-of-00003.safetensors',
      d: 'model-00003-of-00003.safetensors',
    },
  });
  const shard = readFileSync(join(d, 'model-00001-of-00003.safetensors'));
  const header = shard.subarray(8, 8 + Number(shard.readBigUInt64LE(0))).toString();
  assert.ok(header.startsWith('{"__metadata__":{"format":"pt"}'), header);
});

test('BF16 shards halve total_size', async () => {
  const d = scratchDir('bf16');
  await saveShardedWeights(
    d,
    [
      { name: 'x', shape: [600], data: new Float32Array(600) },
      { name: 'y', shape: [2], data: new Float32Array(2) },
    ],
    {
      dtype: 'BF16',
      maxShardBytes: 1000,
    },
  );
  assert.is(readIndex(join(d, 'model.safetensors.index.json')).metadata.total_size, 1204);
  const w = openCheckpointWeights(d);
  assert.is(w.info('x').dtype, 'BF16');
  w.close();
});

test('a new save removes the other layout left by an old one', async () => {
  const d = scratchDir('relayout');
  await saveShardedWeights(d, tensors, { maxShardBytes: 2000 });
  writeFileSync(join(d, 'notes.txt'), 'keep me');
  await saveShardedWeights(d, tensors);
  assert.equal(readdirSync(d).sort(), ['model.safetensors', 'notes.txt']);
  await saveShardedWeights(d, tensors, { maxShardBytes: 2000 });
  assert.ok(!existsSync(join(d, 'model.safetensors')));
  assert.ok(existsSync(join(d, 'model.safetensors.index.json')));
});

test('index problems are refused naming the index, shard and tensor', async () => {
  const d = scratchDir('broken');
  await saveShardedWeights(d, tensors, { maxShardBytes: 2000 });
  const indexPath = join(d, 'model.safetensors.index.json');
  const index = readIndex(indexPath);
  const [name, shard] = Object.entries(index.weight_map)[0];

  renameSync(join(d, shard), join(d, 'moved'));
  expectUserError(() => openCheckpointWeights(d), indexPath, shard, 'missing');
  renameSync(join(d, 'moved'), join(d, shard));

  const other = Object.values(index.weight_map).find((f) => f !== shard)!;
  writeFileSync(indexPath, JSON.stringify({ ...index, weight_map: { ...index.weight_map, [name]: other } }));
  expectUserError(() => openCheckpointWeights(d), indexPath, `"${name}"`, other, 'no such tensor');

  writeFileSync(indexPath, JSON.stringify({ weight_map: { [name]: '../elsewhere.safetensors' } }));
  expectUserError(() => openCheckpointWeights(d), indexPath, '../elsewhere.safetensors', 'same directory');

  writeFileSync(indexPath, JSON.stringify({ metadata: {} }));
  expectUserError(() => openCheckpointWeights(d), indexPath, 'weight_map');

  writeFileSync(indexPath, '{');
  expectUserError(() => openCheckpointWeights(d), indexPath, 'cannot read');

  rmSync(indexPath);
  expectUserError(() => openCheckpointWeights(d), d, 'model.safetensors.index.json');
});

test('a bad shard header is reported with the shard path; other files are closed', async () => {
  const d = scratchDir('badshard');
  await saveShardedWeights(d, tensors, { maxShardBytes: 2000 });
  const p = join(
    d,
    'model-00002-of-' +
      readdirSync(d)
        .find((f) => f.startsWith('model-00001'))!
        .slice(15),
  );
  writeFileSync(p, new Uint8Array(4));
  expectUserError(() => openCheckpointWeights(d), p, '4 bytes');
  writeFileSync(join(d, 'a-file'), '');
  await expectUserErrorAsync(() => saveShardedWeights(join(d, 'a-file', 'sub'), tensors), 'a-file');
  await saveShardedWeights(join(d, 'new', 'dir'), tensors);
  assert.ok(existsSync(join(d, 'new', 'dir', 'model.safetensors')));
});

test.run();
