// Prompt preparation for `sample`: text through the tokenizer in chat mode (a conversation rendered
// with the checkpoint's chat template and the generation prompt), raw mode (the text as is), or
// infill mode (the text holds [MASK] spans, each expanded to `maskSpan` mask tokens); or token ids
// given directly. With no mode given, chat is chosen only when the tokenizer has a chat template and
// can encode it (a char tokenizer over "0123456789+=" cannot spell "user"), and the reason is kept.
// Multi-turn chat keeps the whole conversation in the prompt, as LLaDA's chat.py does (each new
// user turn is appended after the previous answer; GSAI-ML/LLaDA chat.py).
// Deliberately not here: reading files (cli/), the sampler (generate.ts).
import { UserError } from '../engine/errors.ts';
import type { ChatMessage, Tokenizer } from '../model/tokenizer.ts';

export type SampleMode = 'chat' | 'raw' | 'infill';

/** Roles a --messages conversation may use (OpenAI-style chat lists). */
export const CHAT_ROLES = ['system', 'user', 'assistant'] as const;

export interface PromptInput {
  texts: string[];
  promptIds?: string;
  mode?: SampleMode;
  tokenizer: Tokenizer | null;
  maskSpan: number;
  maskId: number;
  checkpoint: string;
  /** --system: a system message opening every conversation. */
  system?: string;
  /** --messages: the conversation so far; each text prompt is appended to it as the next user turn. */
  messages?: ChatMessage[];
}

export interface BuiltPrompts {
  ids: number[][];
  mode: SampleMode;
  /** Why this mode, when it was not given. */
  reason?: string;
  /** Chat mode: the conversation each row was rendered from. */
  conversations?: ChatMessage[][];
}

/** `--prompt-ids 1,2,3`: decimal token ids, strictly (no 0x10, 1e2, empty items such as 1,,2). */
export function parseIdList(s: string): number[] {
  const parts = s.split(',').map((p) => p.trim());
  if (parts.length === 1 && parts[0] === '')
    throw new UserError('--prompt-ids is empty: give comma-separated token ids such as 1,2,3');
  return parts.map((p, i) => {
    if (p === '') throw new UserError(`--prompt-ids "${s}": item ${i + 1} is empty; give ids such as 1,2,3`);
    const n = Number(p);
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(n))
      throw new UserError(`--prompt-ids: "${p}" is not a token id (a non-negative decimal integer)`);
    return n;
  });
}

/** A --messages file's text: a JSON list of {"role", "content"}; `source` names it in errors. */
export function parseMessages(text: string, source: string): ChatMessage[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${source}: not valid JSON (${(e as Error).message})`);
  }
  const shape = 'a JSON list of {"role": "user", "content": "..."} messages';
  if (!Array.isArray(json)) throw new UserError(`${source}: expected ${shape}`);
  if (!json.length) throw new UserError(`${source}: the message list is empty`);
  return json.map((m: unknown, i) => {
    const where = `${source}: message ${i + 1}`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new UserError(`${where}: expected ${shape}`);
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (typeof role !== 'string') throw new UserError(`${where}: "role" is missing or not a string`);
    if (!(CHAT_ROLES as readonly string[]).includes(role))
      throw new UserError(`${where}: unknown role ${JSON.stringify(role)} (use one of ${CHAT_ROLES.join(', ')})`);
    if (typeof content !== 'string') throw new UserError(`${where}: "content" is missing or not a string`);
    if (role === 'system' && i > 0) throw new UserError(`${where}: a system message may only come first`);
    return { role, content };
  });
}

function hasChatTemplate(tok: Tokenizer): boolean {
  return (
    typeof tok.files.tokenizerConfig.chat_template === 'string' ||
    Array.isArray(tok.files.tokenizerConfig.chat_template)
  );
}

/** Why the tokenizer cannot encode its own chat template around an empty user turn, or null if it can. */
function chatTemplateProblem(tok: Tokenizer): string | null {
  try {
    tok.encode(tok.applyChat([{ role: 'user', content: '' }], { addGenerationPrompt: true }));
    return null;
  } catch (e) {
    if (e instanceof UserError) return e.message;
    throw e;
  }
}

function chooseMode(p: PromptInput, tok: Tokenizer): { mode: SampleMode; reason?: string } {
  const chatFlags = p.messages !== undefined || p.system !== undefined;
  if (p.mode !== undefined) {
    if (chatFlags && p.mode !== 'chat') throw new UserError(`--messages and --system need chat mode, not ${p.mode}`);
    return { mode: p.mode };
  }
  if (chatFlags) return { mode: 'chat', reason: '--messages / --system given' };
  if (!hasChatTemplate(tok)) return { mode: 'raw', reason: 'the tokenizer has no chat template' };
  const problem = chatTemplateProblem(tok);
  if (problem !== null) return { mode: 'raw', reason: `the tokenizer cannot encode its chat template: ${problem}` };
  return { mode: 'chat', reason: 'the tokenizer has a chat template; the prompt is wrapped in it as a user turn' };
}

/** The conversations to render: [system] + messages + each text as a user turn. */
function conversations(p: PromptInput): ChatMessage[][] {
  const head: ChatMessage[] = [];
  if (p.system !== undefined) {
    if (p.messages?.[0]?.role === 'system')
      throw new UserError('--system and a system message in --messages: give the system message once');
    head.push({ role: 'system', content: p.system });
  }
  head.push(...(p.messages ?? []));
  const convs = p.texts.length ? p.texts.map((t) => [...head, { role: 'user', content: t }]) : [head];
  for (const c of convs) {
    if (c.at(-1)?.role !== 'user')
      throw new UserError('the conversation must end with a user turn: give --prompt TEXT or end --messages with one');
  }
  return convs;
}

export function buildPrompts(p: PromptInput): BuiltPrompts {
  if (p.promptIds !== undefined) {
    if (p.texts.length || p.messages || p.system !== undefined)
      throw new UserError('give either --prompt-ids or text prompts (--prompt, --prompts, --messages, --system)');
    const ids = parseIdList(p.promptIds);
    return { ids: [ids], mode: p.mode === 'infill' ? 'infill' : 'raw' };
  }
  const tok = p.tokenizer;
  if (!tok)
    throw new UserError(`${p.checkpoint} has no tokenizer.json, so text prompts cannot be encoded; use --prompt-ids`);
  const { mode, reason } = chooseMode(p, tok);
  if (!Number.isInteger(p.maskSpan) || p.maskSpan < 1)
    throw new UserError(`--mask-span must be a positive integer, got ${p.maskSpan}`);
  p.texts.forEach((t, i) => {
    if (!t.length) throw new UserError(`prompt ${i + 1} is empty`);
  });
  if (mode === 'chat') {
    const problem = chatTemplateProblem(tok);
    if (problem !== null)
      throw new UserError(`chat mode: the tokenizer cannot encode its chat template (${problem}); use --mode raw`);
    const convs = conversations(p);
    const ids = convs.map((c) => tok.encode(tok.applyChat(c, { addGenerationPrompt: true })));
    return { ids, mode, reason, conversations: convs };
  }
  if (!p.texts.length) throw new UserError('give --prompt TEXT, --prompts FILE.jsonl or --prompt-ids 1,2,3');
  const ids = p.texts.map((t, i) => {
    if (mode === 'raw') return tok.encode(t);
    const pieces = t.split('[MASK]');
    if (pieces.length < 2) throw new UserError(`infill prompt ${i + 1} has no [MASK] span to fill`);
    const out: number[] = [];
    pieces.forEach((piece, k) => {
      if (piece) out.push(...tok.encode(piece));
      if (k < pieces.length - 1) out.push(...new Array<number>(p.maskSpan).fill(p.maskId));
    });
    return out;
  });
  return { ids, mode, reason };
}
