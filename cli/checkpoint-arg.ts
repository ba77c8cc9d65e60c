// What `--checkpoint` names, for `sample` and `eval`: a model folder (config.json beside the
// weights) is taken as is; a training run folder resolves to its newest complete step-NNNNNN
// checkpoint, the one `train --resume` would continue from (train/checkpoint-dir.ts decides what is
// complete). Lives in cli/ because sample/ may not import train/.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../engine/errors.ts';
import { newestCheckpoint } from '../train/checkpoint-dir.ts';

export interface ResolvedCheckpoint {
  /** The model folder to load. */
  dir: string;
  /** Set when `dir` was chosen from a run folder: a line saying which checkpoint was taken. */
  note?: string;
  /** A LoRA checkpoint: its adapter folder (dir is then the base it names). */
  adapter?: string;
}

/** A LoRA run's checkpoint (adapter_config.json, no model): its base is base_model_name_or_path. */
function loraCheckpoint(adapter: string, note?: string): ResolvedCheckpoint {
  let base: unknown;
  try {
    base = (JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8')) as Record<string, unknown>)
      .base_model_name_or_path;
  } catch (e) {
    throw new UserError(`${adapter}/adapter_config.json: cannot read it (${(e as Error).message})`);
  }
  if (typeof base !== 'string' || !existsSync(join(base, 'config.json'))) {
    throw new UserError(
      `${adapter} is a LoRA adapter whose base_model_name_or_path (${JSON.stringify(base)}) is not a model folder ` +
        'here: give the base with --checkpoint BASE --adapter ' +
        adapter,
    );
  }
  const line = `LoRA adapter ${adapter} on its base ${base}`;
  return { dir: base, adapter, note: note ? `${note}; ${line}` : line };
}

export function resolveCheckpointArg(path: string): ResolvedCheckpoint {
  const r = resolveModelOrRun(path);
  return !existsSync(join(r.dir, 'config.json')) && existsSync(join(r.dir, 'adapter_config.json'))
    ? loraCheckpoint(r.dir, r.note)
    : r;
}

function resolveModelOrRun(path: string): ResolvedCheckpoint {
  if (!existsSync(path)) throw new UserError(`checkpoint folder not found: ${path}`);
  if (!statSync(path).isDirectory())
    throw new UserError(`--checkpoint ${path} is a file; give a model folder or a training run folder`);
  if (existsSync(join(path, 'config.json')) || existsSync(join(path, 'adapter_config.json'))) return { dir: path };
  const newest = newestCheckpoint(path);
  if (newest) {
    return {
      dir: newest.path,
      note: `using ${newest.path} (step ${newest.step}, the newest complete checkpoint in ${path})`,
    };
  }
  // Checkpoint-looking folders without the COMPLETE marker: a save that never finished.
  const partial = readdirSync(path).filter((n) => /^(\.tmp-)?step-\d{6,}$/.test(n));
  if (partial.length) {
    throw new UserError(
      `${path} is a run folder with no complete checkpoint (${partial.sort().join(', ')} never finished saving); ` +
        'train until a checkpoint is written, or give a checkpoint folder',
    );
  }
  throw new UserError(
    `${path} is neither a model folder (no config.json) nor a training run folder (no step-NNNNNN checkpoints)`,
  );
}
