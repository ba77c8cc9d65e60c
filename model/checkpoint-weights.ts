// Checkpoint weights as Hugging Face lays them out, wherever the files come from (a folder in
// Node: weights-dir.ts; files fetched over HTTP in a browser: remote-checkpoint.ts): a single
// model.safetensors, or shards model-00001-of-0000N.safetensors listed by
// model.safetensors.index.json ({"metadata": {"total_size"}, "weight_map": {tensor: shard}}).
// Tensors are read one at a time from the files' safetensors readers.
// Deliberately not here: opening files, the mapping from tensor names to the model (names.ts).
// File names and the index format: transformers' SAFE_WEIGHTS_NAME / SAFE_WEIGHTS_INDEX_NAME.

import { UserError } from '../engine/errors.ts';
import type { Dtype, SafetensorsReader } from './safetensors-format.ts';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

export interface WeightInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Path of the file holding it. */
  file: string;
}

export interface CheckpointWeights {
  /** Tensor names: file order for one file, index order for shards. */
  names(): string[];
  has(name: string): boolean;
  info(name: string): WeightInfo;
  /** One tensor as f32 (into `out` when given). */
  readTensor(name: string, out?: Float32Array): Float32Array;
  /** One tensor's bytes as stored (e.g. BF16 bits to upload as they are). */
  readRaw(name: string): Uint8Array;
  /** Elements [start, start + count) of one tensor as f32, into `out` (at least count long). */
  readRange(name: string, start: number, count: number, out: Float32Array): Float32Array;
  /** Bytes of elements [start, start + count) of one tensor as stored (16-bit ranges uploaded as they are). */
  readRawRange(name: string, start: number, count: number): Uint8Array;
  close(): void;
}

/** The weight_map of a shard index (its parsed JSON; `path` names it in errors): tensor name -> shard file. */
export function parseWeightIndex(json: unknown, path: string): Map<string, string> {
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new UserError(`${path}: the shard index needs a "weight_map" object of tensor name -> shard file`);
  }
  const out = new Map<string, string>();
  for (const [name, file] of Object.entries(map)) {
    // Shards must sit beside the index: no paths, so an index cannot point outside its directory.
    if (typeof file !== 'string' || file === '' || file === '.' || file === '..' || /[/\\]/.test(file)) {
      throw new UserError(
        `${path}: weight_map entry "${name}" names ${JSON.stringify(file)}; expected a file name in the same directory`,
      );
    }
    out.set(name, file);
  }
  return out;
}

/** The tensors of one safetensors file; `source` names it in errors. */
export function fileWeights(source: string, file: SafetensorsReader): Weights {
  return new Weights(source, [file], new Map(file.names().map((n) => [n, file])));
}

/**
 * The tensors of a shard index (`index`: tensor -> shard file, parsed by parseWeightIndex) whose
 * shards the caller has opened, however it reads them (`shards`: each file the index names ->
 * its reader). Every tensor must be in the shard the index puts it in. `indexPath` names the index.
 */
export function indexedWeights(
  indexPath: string,
  index: Map<string, string>,
  shards: Map<string, SafetensorsReader>,
): Weights {
  const where = new Map<string, SafetensorsReader>();
  for (const [name, file] of index) {
    const shard = shards.get(file);
    if (!shard) throw new Error(`indexedWeights: shard ${file} was not opened`); // a caller's bug
    if (!shard.has(name))
      throw new UserError(
        `${indexPath}: weight_map puts tensor "${name}" in ${file}, but that shard has no such tensor`,
      );
    where.set(name, shard);
  }
  return new Weights(indexPath, [...shards.values()], where);
}

/** Tensors spread over safetensors readers (one file, or the shards of an index). */
export class Weights implements CheckpointWeights {
  constructor(
    private readonly source: string,
    private readonly files: SafetensorsReader[],
    private readonly where: Map<string, SafetensorsReader>,
  ) {}

  names(): string[] {
    return [...this.where.keys()];
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  private fileOf(name: string): SafetensorsReader {
    const f = this.where.get(name);
    if (!f) throw new UserError(`${this.source}: no tensor "${name}" in this checkpoint`);
    return f;
  }

  info(name: string): WeightInfo {
    const f = this.fileOf(name);
    const t = f.info(name);
    return { name, dtype: t.dtype, shape: t.shape, file: f.path };
  }

  readTensor(name: string, out?: Float32Array): Float32Array {
    return this.fileOf(name).readTensor(name, out);
  }

  readRaw(name: string): Uint8Array {
    return this.fileOf(name).readRaw(name);
  }

  readRange(name: string, start: number, count: number, out: Float32Array): Float32Array {
    return this.fileOf(name).readRange(name, start, count, out);
  }

  readRawRange(name: string, start: number, count: number): Uint8Array {
    return this.fileOf(name).readRawRange(name, start, count);
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}
