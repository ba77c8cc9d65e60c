// Checkpoint weights as Hugging Face lays them out in a model directory: a single
// model.safetensors, or shards model-00001-of-0000N.safetensors listed by
// model.safetensors.index.json ({"metadata": {"total_size"}, "weight_map": {tensor: shard}}).
// Opening validates every header and the index up front; tensors are then read one at a time.
// Deliberately not here: the mapping from tensor names to the model (names.ts), config files.
// File names and the index format: transformers' SAFE_WEIGHTS_NAME / SAFE_WEIGHTS_INDEX_NAME and
// its shard naming; like transformers, a single model.safetensors wins over an index.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../engine/errors.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { DTYPE_BYTES, numelOf, SafetensorsFile } from './safetensors.ts';
import {
  fileWeights,
  indexedWeights,
  INDEX_FILE,
  parseWeightIndex,
  SINGLE_FILE,
  type CheckpointWeights,
} from './checkpoint-weights.ts';
import { collectSources, writeSafetensors, type SaveDtype, type TensorSources } from './safetensors-write.ts';

export { SINGLE_FILE, INDEX_FILE, type WeightInfo, type CheckpointWeights } from './checkpoint-weights.ts';
const SHARD_RE = /^model-\d{5}-of-\d{5}\.safetensors$/;

function readIndex(path: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UserError(`${path}: cannot read the shard index (${(e as Error).message})`);
  }
  return parseWeightIndex(json, path);
}

/** Open a model directory (or one .safetensors file) for tensor-by-tensor reading. */
export function openCheckpointWeights(dirOrFile: string): CheckpointWeights {
  if (existsSync(dirOrFile) && statSync(dirOrFile).isFile())
    return fileWeights(dirOrFile, SafetensorsFile.open(dirOrFile));
  const single = join(dirOrFile, SINGLE_FILE);
  if (existsSync(single)) return openCheckpointWeights(single);
  const indexPath = join(dirOrFile, INDEX_FILE);
  if (!existsSync(indexPath)) {
    throw new UserError(`${dirOrFile}: no ${SINGLE_FILE} or ${INDEX_FILE} (is this a Hugging Face model directory?)`);
  }
  const index = readIndex(indexPath);
  const opened = new Map<string, SafetensorsFile>();
  try {
    for (const [name, file] of index) {
      if (opened.has(file)) continue;
      const p = join(dirOrFile, file);
      if (!existsSync(p))
        throw new UserError(`${indexPath}: shard ${file} (for tensor "${name}") is missing from ${dirOrFile}`);
      opened.set(file, SafetensorsFile.open(p));
    }
    return indexedWeights(indexPath, index, opened);
  } catch (e) {
    for (const f of opened.values()) f.close();
    throw e;
  }
}

export interface ShardOptions {
  dtype?: SaveDtype;
  /** Largest shard in tensor-data bytes; a bigger single tensor gets a shard of its own. */
  maxShardBytes?: number;
  metadata?: Record<string, string>;
}

export function shardFileName(i: number, n: number): string {
  return `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
}

/**
 * Save weights into `dir` (created if needed) as model.safetensors, or as shards plus an index when the data exceeds
 * maxShardBytes (default 5 GB, transformers' default). Files of the other layout left by an older
 * save are removed afterwards, so the directory never mixes two checkpoints. The index is written
 * after every shard it names.
 */
export async function saveShardedWeights(
  dir: string,
  tensors: TensorSources,
  opts: ShardOptions = {},
): Promise<string[]> {
  const dtype = opts.dtype ?? 'F32';
  const max = opts.maxShardBytes ?? 5e9;
  // transformers refuses safetensors files whose metadata lacks format "pt".
  const metadata = { format: 'pt', ...opts.metadata };
  const list = await collectSources(tensors);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UserError(`${dir}: cannot create the checkpoint directory (${(e as Error).message})`);
  }
  const shards: (typeof list)[] = [[]];
  let used = 0;
  for (const t of list) {
    const bytes = numelOf(t.shape) * DTYPE_BYTES[t.dtype ?? dtype];
    if (shards.at(-1)!.length > 0 && used + bytes > max) {
      shards.push([]);
      used = 0;
    }
    shards.at(-1)!.push(t);
    used += bytes;
  }
  const written: string[] = [];
  if (shards.length === 1) {
    await writeSafetensors(join(dir, SINGLE_FILE), list, { dtype, metadata });
    written.push(SINGLE_FILE);
  } else {
    const weightMap = Object.create(null) as Record<string, string>;
    let total = 0;
    for (let i = 0; i < shards.length; i++) {
      const name = shardFileName(i, shards.length);
      await writeSafetensors(join(dir, name), shards[i], { dtype, metadata });
      written.push(name);
      for (const t of shards[i]) {
        weightMap[t.name] = name;
        total += numelOf(t.shape) * DTYPE_BYTES[t.dtype ?? dtype];
      }
    }
    const sorted = Object.fromEntries(
      Object.keys(weightMap)
        .sort()
        .map((k) => [k, weightMap[k]]),
    );
    const index = { metadata: { total_size: total }, weight_map: sorted };
    writeFileAtomic(join(dir, INDEX_FILE), JSON.stringify(index, null, 2) + '\n');
    written.push(INDEX_FILE);
  }
  for (const f of readdirSync(dir)) {
    const ours = f === SINGLE_FILE || f === INDEX_FILE || SHARD_RE.test(f);
    if (ours && !written.includes(f)) rmSync(join(dir, f), { force: true });
  }
  return written.map((f) => join(dir, f));
}
