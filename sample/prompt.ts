// Prompt preparation for `sample`: text through the tokenizer in chat mode (the checkpoint's chat
// template with the generation prompt), raw mode (the text as is), or infill mode (the text holds
// [MASK] spans, each expanded to `maskSpan` mask tokens); or token ids given directly.
import { UserError } from '../engine/errors.ts';
import type { Tokenizer } from '../model/tokenizer.ts';

export type SampleMode = 'chat' | 'raw' | 'infill';

export interface PromptInput {
  texts: string[];
  promptIds?: string;
  mode?: SampleMode;
  tokenizer: Tokenizer | null;
  maskSpan: number;
  maskId: number;
  checkpoint: string;
}

export function parseIdList(s: string): number[] {
  const parts = s
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (!parts.length) throw new UserError('--prompt-ids is empty: give comma-separated token ids such as 1,2,3');
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 0)
      throw new UserError(`--prompt-ids: "${p}" is not a token id (a non-negative integer)`);
    return n;
  });
}

function hasChatTemplate(tok: Tokenizer): boolean {
  return (
    typeof tok.files.tokenizerConfig.chat_template === 'string' ||
    Array.isArray(tok.files.tokenizerConfig.chat_template)
  );
}

export function buildPrompts(p: PromptInput): { ids: number[][]; mode: SampleMode } {
  if (p.promptIds !== undefined) {
    if (p.texts.length) throw new UserError('give either --prompt-ids or text prompts, not both');
    const ids = parseIdList(p.promptIds);
    if (p.mode === 'infill') return { ids: [ids], mode: 'infill' };
    return { ids: [ids], mode: 'raw' };
  }
  const tok = p.tokenizer;
  if (!tok)
    throw new UserError(`${p.checkpoint} has no tokenizer.json, so text prompts cannot be encoded; use --prompt-ids`);
  const mode: SampleMode = p.mode ?? (hasChatTemplate(tok) ? 'chat' : 'raw');
  if (!Number.isInteger(p.maskSpan) || p.maskSpan < 1)
    throw new UserError(`--mask-span must be a positive integer, got ${p.maskSpan}`);
  const ids = p.texts.map((t, i) => {
    if (!t.length) throw new UserError(`prompt ${i + 1} is empty`);
    if (mode === 'chat')
      return tok.encode(tok.applyChat([{ role: 'user', content: t }], { addGenerationPrompt: true }));
    if (mode === 'raw') return tok.encode(t);
    const pieces = t.split('[MASK]');
    if (pieces.length < 2) throw new UserError(`infill prompt ${i + 1} has no [MASK] span to fill`);
    const out: number[] = [];
    pieces.forEach((piece, k) => {
      if (piece) out.push(...tok.encode(piece));
      if (k < pieces.length - 1) out.push(...new Array(p.maskSpan).fill(p.maskId));
    });
    return out;
  });
  return { ids, mode };
}
