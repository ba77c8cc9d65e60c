// `dllm-wgpu merge`: a base checkpoint plus a LoRA adapter written out as one full Hugging Face
// checkpoint, W' = W + s * B A on each adapted weight (Hu et al. 2021: merging removes the
// adapter's inference cost). Runs on the host, streamed: each tensor is read, merged and written in
// ranges of at most 64 MiB (the writer's chunks), so memory holds the adapter plus one range
// whatever the model's size; no GPU is needed. The merge sums in float64 and rounds once to the
// output dtype (default: the base's own). config.json is copied with its torch_dtype updated (other
// keys, such as LLaDA's auto_map, kept), and so are the tokenizer files and remote-code *.py files.
// The output appears whole or not at all: written in a temporary sibling folder, renamed at the end.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../engine/errors.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { loadConfig } from './config-file.ts';
import { checkpointDtype } from './io.ts';
import { checkWeightsMatch, parameterTable } from './names.ts';
import type { ParamDType } from './params.ts';
import { readPeftAdapter, type HostAdapter } from './peft.ts';
import type { SaveDtype, TensorData, TensorSource } from './safetensors-write.ts';
import { openCheckpointWeights, saveShardedWeights } from './weights-dir.ts';

const FILE_DTYPE = { f32: 'F32', bf16: 'BF16', f16: 'F16' } as const satisfies Record<ParamDType, SaveDtype>;
const TORCH_NAME = { f32: 'float32', bf16: 'bfloat16', f16: 'float16' } as const;
const COPIED = /^(tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|generation_config\.json|.*\.py)$/;

/** Elements [start, start + count) of W (row-major [out, in]) plus s * B A, in place. */
export function addLoraDelta(w: Float32Array, start: number, m: HostAdapter['modules'][number]): void {
  const { inF, rank: r, A, B, scale } = m;
  const count = w.length;
  const sb = new Float64Array(r);
  for (let e = 0; e < count;) {
    const row = Math.floor((start + e) / inF);
    for (let k = 0; k < r; k++) sb[k] = scale * B[row * r + k];
    const colEnd = Math.min(inF, start + count - row * inF);
    for (let col = (start + e) % inF; col < colEnd; col++, e++) {
      let acc = w[e];
      for (let k = 0; k < r; k++) acc += sb[k] * A[k * inF + col];
      w[e] = acc;
    }
  }
}

export async function mergeAdapter(
  baseDir: string,
  adapterDir: string,
  outDir: string,
  o: { dtype?: ParamDType } = {},
): Promise<{ dtype: ParamDType; merged: number; files: string[] }> {
  if (!existsSync(join(baseDir, 'config.json'))) throw new UserError(`--checkpoint ${baseDir} is not a model folder`);
  if (resolve(outDir) === resolve(baseDir) || resolve(outDir) === resolve(adapterDir)) {
    throw new UserError(`--out ${outDir} must be a new folder, not the base or the adapter`);
  }
  if (existsSync(outDir) && (!statSync(outDir).isDirectory() || readdirSync(outDir).length > 0)) {
    throw new UserError(`--out ${outDir} already exists; give a new folder (or remove that one)`);
  }
  const cfg = loadConfig(baseDir);
  const adapter = readPeftAdapter(adapterDir, cfg); // every shape checked against the base
  const byWeight = new Map(adapter.modules.map((m) => [`${m.path}.weight`, m]));
  const w = openCheckpointWeights(baseDir);
  try {
    checkWeightsMatch(cfg, new Map(w.names().map((n) => [n, w.info(n).shape])), baseDir);
    const dtype = o.dtype ?? checkpointDtype(w);
    const sources: TensorSource[] = parameterTable(cfg).map((p) => {
      const own = w.info(p.name).dtype;
      // Given --dtype, weight matrices take it; norm vectors keep their own dtype.
      const d: SaveDtype = p.shape.length >= 2 ? FILE_DTYPE[dtype] : own === 'BF16' || own === 'F16' ? own : 'F32';
      const m = byWeight.get(p.name);
      return {
        name: p.name,
        shape: p.shape,
        dtype: d,
        read: (start: number, count: number): Promise<TensorData> => {
          if (!m && own === d && d !== 'F32') {
            const raw = w.readRawRange(p.name, start, count); // 16-bit bits copied as they are
            return Promise.resolve(new Uint16Array(raw.slice().buffer, 0, count));
          }
          const f = w.readRange(p.name, start, count, new Float32Array(count));
          if (m) addLoraDelta(f, start, m);
          return Promise.resolve(f);
        },
      };
    });
    // Written into a temporary sibling folder renamed to --out at the end: a failure (disk full,
    // Ctrl-C) leaves no half-written model folder that would load as a complete one.
    const tmp = join(dirname(resolve(outDir)), `.${basename(resolve(outDir))}.tmp-merge-${process.pid}`);
    try {
      mkdirSync(dirname(resolve(outDir)), { recursive: true });
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp);
    } catch (e) {
      throw new UserError(`cannot create --out ${outDir}: ${(e as Error).message}`);
    }
    try {
      const written = await saveShardedWeights(tmp, sources);
      const json = JSON.parse(readFileSync(join(baseDir, 'config.json'), 'utf8')) as Record<string, unknown>;
      json.torch_dtype = TORCH_NAME[dtype];
      writeFileAtomic(join(tmp, 'config.json'), JSON.stringify(json, null, 2) + '\n');
      for (const f of readdirSync(baseDir)) if (COPIED.test(f)) copyFileSync(join(baseDir, f), join(tmp, f));
      if (existsSync(outDir)) rmdirSync(outDir); // empty (checked above); rename onto a folder is POSIX-only
      renameSync(tmp, outDir);
      return { dtype, merged: adapter.modules.length, files: written.map((f) => join(outDir, basename(f))) };
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  } finally {
    w.close();
  }
}
