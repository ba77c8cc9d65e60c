// A tokenizer in a model folder: tokenizer.json (+ tokenizer_config.json when present) read into a
// Tokenizer, and both written atomically. Building the tokenizer from the parsed files is
// tokenizer.ts's, which a browser tab uses on fetched files.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../engine/errors.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { parseJsonObject, tokenizerFromFiles, type Tokenizer, type TokenizerFiles } from './tokenizer.ts';

function readJson(path: string, required: boolean): Record<string, unknown> | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
  return parseJsonObject(text, path);
}

/** Load `<dir>/tokenizer.json` and, when present, `<dir>/tokenizer_config.json`. */
export function loadTokenizer(dir: string): Tokenizer {
  const tokenizerJson = readJson(join(dir, 'tokenizer.json'), true)!;
  const tokenizerConfig = readJson(join(dir, 'tokenizer_config.json'), false) ?? {};
  return tokenizerFromFiles({ tokenizerJson, tokenizerConfig }, join(dir, 'tokenizer.json'));
}

/** Write tokenizer.json and tokenizer_config.json into `dir` (created if needed). */
export function saveTokenizer(dir: string, tok: Tokenizer | TokenizerFiles): void {
  const files = 'files' in tok ? tok.files : tok;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UserError(`${dir}: cannot create the tokenizer directory (${(e as Error).message})`);
  }
  writeFileAtomic(join(dir, 'tokenizer.json'), JSON.stringify(files.tokenizerJson, null, 2) + '\n');
  writeFileAtomic(join(dir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig, null, 2) + '\n');
}
