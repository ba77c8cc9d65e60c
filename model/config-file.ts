// config.json in a model folder: read (loadConfig) and written atomically (saveConfig). The parsing
// and the fields are config.ts's, which a browser tab uses on a fetched config.json.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../engine/errors.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { configToJson, parseConfigText, type ModelConfig, type TorchDtype } from './config.ts';

/** Read `<dir>/config.json`. */
export function loadConfig(dir: string): ModelConfig {
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`${path}: cannot read the model config (${(e as Error).message})`);
  }
  return parseConfigText(text, path);
}

/** Write `<dir>/config.json` atomically. */
export function saveConfig(dir: string, cfg: ModelConfig, opts: { torchDtype?: TorchDtype } = {}): void {
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify(configToJson(cfg, opts), null, 2) + '\n');
}
