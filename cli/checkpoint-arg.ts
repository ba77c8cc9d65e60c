// What `--checkpoint` names, for `sample` and `eval`: a model folder (config.json beside the
// weights) is taken as is; a training run folder resolves to its newest complete step-NNNNNN
// checkpoint, the one `train --resume` would continue from (train/checkpoint-dir.ts decides what is
// complete). Lives in cli/ because sample/ may not import train/.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../engine/errors.ts';
import { newestCheckpoint } from '../train/checkpoint-dir.ts';

export interface ResolvedCheckpoint {
  /** The model folder to load. */
  dir: string;
  /** Set when `dir` was chosen from a run folder: a line saying which checkpoint was taken. */
  note?: string;
}

export function resolveCheckpointArg(path: string): ResolvedCheckpoint {
  if (!existsSync(path)) throw new UserError(`checkpoint folder not found: ${path}`);
  if (!statSync(path).isDirectory())
    throw new UserError(`--checkpoint ${path} is a file; give a model folder or a training run folder`);
  if (existsSync(join(path, 'config.json'))) return { dir: path };
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
