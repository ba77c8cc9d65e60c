// The body of a completions or chat completions request, checked and turned into sampler rows.
// Shapes follow OpenAI's API reference (platform.openai.com/docs/api-reference/completions and
// /chat): `prompt` (a string, strings, token ids or lists of them), `messages`, `max_tokens`
// (the gen length), `temperature`, `n`, `stop`, `seed`, `stream`, `stream_options`; our sampler's
// knobs come as extra fields (steps, block_length, threshold, cache, cfg_scale, remasking,
// logits_eos_inf, confidence_eos_eot_inf) and `dllm_steps` asks for the denoising steps as events.
// Unknown fields are ignored, as OpenAI ignores them; a known field of the wrong type is an
// HttpError 400 naming it (null counts as not given).
// Deliberately not here: HTTP (server.ts), batching (batcher.ts).
import { UserError } from '../engine/errors.ts';
import type { LLaDAModel } from '../model/llada.ts';
import type { ChatMessage } from '../model/tokenizer.ts';
import { buildPrompts, CHAT_ROLES } from '../sample/prompt.ts';
import type { Remasking } from '../sample/generate.ts';
import type { CacheMode } from '../sample/denoiser.ts';

/** An error answered with `status` and OpenAI's error JSON. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly type = status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/** What must be equal for requests to share a batch. */
export interface Knobs {
  genLength: number;
  blockLength: number;
  steps: number;
  temperature: number;
  remasking: Remasking;
  cfgScale: number;
  threshold: number | undefined;
  cache: CacheMode;
  logitsEosInf: boolean;
  confidenceEosEotInf: boolean;
}

export interface ParsedRequest {
  chat: boolean;
  /** Choices per prompt. */
  n: number;
  /** One row per choice: prompts x n, prompt-major (OpenAI's choice order). */
  rows: { ids: number[]; seed: number }[];
  knobs: Knobs;
  stop: string[];
  stream: boolean;
  includeUsage: boolean;
  dllmSteps: boolean;
}

export interface ServeLimits {
  /** Rows one batch may hold (--max-batch): a request's prompts x n must fit. */
  maxBatch: number;
  /** --max-gen-length; undefined = what fits after the prompt. */
  maxGenLength?: number;
  /** The gen length when max_tokens is not given: the checkpoint's trained one, else LLaDA's 128 (cut to fit). */
  defaultGenLength: number;
}

type Body = Record<string, unknown>;

function bad(param: string, what: string, v: unknown): never {
  throw new HttpError(400, `'${param}' must be ${what}, got ${JSON.stringify(v)?.slice(0, 80)}`, param);
}

function opt<T>(b: Body, k: string, check: (v: unknown) => v is T, what: string): T | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (!check(v)) bad(k, what, v);
  return v;
}
const isInt =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (v: unknown): v is number =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
const isNum =
  (min: number, max = Infinity, openMin = false) =>
  (v: unknown): v is number =>
    typeof v === 'number' && Number.isFinite(v) && (openMin ? v > min : v >= min) && v <= max;
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isOneOf =
  <T extends string>(xs: readonly T[]) =>
  (v: unknown): v is T =>
    xs.includes(v as T);
const isIds = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every(isInt(0));

/** The prompt texts or token-id lists of a completions request. */
function completionPrompts(b: Body): (string | number[])[] {
  const p = b.prompt;
  const what = 'a string, a list of strings, a list of token ids or a list of such lists (non-empty)';
  if (typeof p === 'string') return [p];
  if (isIds(p)) return [p];
  if (Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === 'string' || isIds(x))) return p;
  return bad('prompt', what, p);
}

function chatMessages(b: Body): ChatMessage[] {
  const m = b.messages;
  if (!Array.isArray(m) || !m.length) bad('messages', 'a non-empty list of {role, content} messages', m);
  return m.map((x: unknown, i) => {
    const where = `messages[${i}]`;
    if (typeof x !== 'object' || x === null) bad(where, 'an object {role, content}', x);
    const { role, content } = x as { role?: unknown; content?: unknown };
    if (!isOneOf(CHAT_ROLES)(role)) bad(`${where}.role`, `one of ${CHAT_ROLES.join(', ')}`, role);
    let text: string;
    if (typeof content === 'string') text = content;
    else if (
      Array.isArray(content) &&
      content.every(
        (c) => typeof c === 'object' && c && (c as Body).type === 'text' && typeof (c as Body).text === 'string',
      )
    )
      text = content.map((c) => (c as { text: string }).text).join('');
    else return bad(`${where}.content`, 'a string or a list of {"type": "text", "text": ...} parts', content);
    return { role, content: text };
  });
}

/** LLaDA's block length 32 where it divides the gen length, else one block. */
function defaultBlock(gen: number): number {
  return gen > 32 && gen % 32 === 0 ? 32 : gen;
}

export function parseRequest(body: unknown, chat: boolean, model: LLaDAModel, lim: ServeLimits): ParsedRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpError(400, 'the request body must be a JSON object');
  const b = body as Body;
  opt(b, 'model', (v): v is string => typeof v === 'string', 'a string');
  const maxTokens =
    opt(b, 'max_tokens', isInt(1), 'an integer >= 1') ?? opt(b, 'max_completion_tokens', isInt(1), 'an integer >= 1');
  const temperature = opt(b, 'temperature', isNum(0), 'a number >= 0') ?? 0;
  const n = opt(b, 'n', isInt(1), 'an integer >= 1') ?? 1;
  const seed = opt(b, 'seed', isInt(0), 'an integer >= 0') ?? 0;
  const stream = opt(b, 'stream', isBool, 'a boolean') ?? false;
  const so = opt(b, 'stream_options', (v): v is Body => typeof v === 'object' && !Array.isArray(v), 'an object');
  const includeUsage = (so && opt(so, 'include_usage', isBool, 'a boolean')) ?? false;
  const stopRaw = b.stop ?? undefined;
  let stop: string[] = [];
  if (typeof stopRaw === 'string') stop = [stopRaw];
  else if (Array.isArray(stopRaw) && stopRaw.length <= 4 && stopRaw.every((s) => typeof s === 'string')) stop = stopRaw;
  else if (stopRaw !== undefined) bad('stop', 'a string or a list of up to 4 strings', stopRaw);
  stop = stop.filter((s) => s.length > 0);
  const steps = opt(b, 'steps', isInt(1), 'an integer >= 1');
  const blockLength = opt(b, 'block_length', isInt(1), 'an integer >= 1');
  const threshold = opt(b, 'threshold', isNum(0, 1, true), 'a number in (0, 1]');
  const cache = opt(b, 'cache', isOneOf(['none', 'prefix', 'dual'] as const), '"none", "prefix" or "dual"') ?? 'none';
  const cfgScale = opt(b, 'cfg_scale', isNum(0), 'a number >= 0') ?? 0;
  const remasking = opt(b, 'remasking', isOneOf(['low_confidence', 'random'] as const), '"low_confidence" or "random"');
  const dllmSteps = opt(b, 'dllm_steps', isBool, 'a boolean') ?? false;
  const logitsEosInf = opt(b, 'logits_eos_inf', isBool, 'a boolean') ?? false;
  const confidenceEosEotInf = opt(b, 'confidence_eos_eot_inf', isBool, 'a boolean') ?? false;

  const tok = model.tokenizer;
  const maskId = model.config.mask_token_id;
  let prompts: number[][];
  try {
    if (chat) {
      const messages = chatMessages(b);
      if (!tok)
        throw new HttpError(
          400,
          'this model has no tokenizer, so it has no chat template: use /v1/completions with token ids',
          'messages',
        );
      try {
        tok.encode(tok.applyChat([{ role: 'user', content: '' }], { addGenerationPrompt: true }));
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        throw new HttpError(
          400,
          `this model's tokenizer cannot encode its chat template (${e.message}): use /v1/completions`,
          'messages',
        );
      }
      prompts = buildPrompts({
        texts: [],
        messages,
        mode: 'chat',
        tokenizer: tok,
        maskSpan: 1,
        maskId,
        checkpoint: 'the model',
      }).ids;
    } else {
      prompts = completionPrompts(b).map((p) => {
        if (typeof p !== 'string') return p;
        if (!tok) throw new HttpError(400, 'this model has no tokenizer: give the prompt as token ids', 'prompt');
        if (!p.length) throw new HttpError(400, 'a prompt is empty', 'prompt');
        return tok.encode(p);
      });
    }
    for (const ids of prompts) {
      if (ids.includes(maskId)) throw new UserError(`the prompt holds the mask token (id ${maskId})`);
      model.checkIds(ids, 'prompt');
    }
  } catch (e) {
    if (e instanceof UserError) throw new HttpError(400, e.message, chat ? 'messages' : 'prompt');
    throw e;
  }
  const rows = prompts.flatMap((ids) => Array.from({ length: n }, (_, i) => ({ ids, seed: seed + i })));
  if (rows.length > lim.maxBatch)
    throw new HttpError(
      400,
      `${rows.length} choices (prompts x n) exceed the server's batch of ${lim.maxBatch} (--max-batch)`,
      'n',
    );

  const maxSeq = model.config.max_sequence_length;
  const P = Math.max(...prompts.map((p) => p.length));
  const room = maxSeq - P;
  if (room < 1)
    throw new HttpError(
      400,
      `the prompt has ${P} tokens: nothing fits after it in the model's context of ${maxSeq}`,
      chat ? 'messages' : 'prompt',
      'invalid_request_error',
      'context_length_exceeded',
    );
  const limit = Math.min(room, lim.maxGenLength ?? room);
  const genLength = maxTokens ?? Math.min(lim.defaultGenLength, limit);
  if (genLength > limit) {
    const why =
      lim.maxGenLength !== undefined && lim.maxGenLength < room
        ? `the server's --max-gen-length ${lim.maxGenLength}`
        : `what fits after the ${P}-token prompt in the model's context of ${maxSeq}`;
    throw new HttpError(
      400,
      `max_tokens ${genLength} exceeds ${why}`,
      'max_tokens',
      'invalid_request_error',
      'context_length_exceeded',
    );
  }
  const block = blockLength ?? defaultBlock(genLength);
  if (genLength % block !== 0)
    throw new HttpError(
      400,
      `block_length ${block} does not divide the gen length ${genLength} (max_tokens)`,
      'block_length',
    );
  const numBlocks = genLength / block;
  const st = steps ?? genLength;
  if (st % numBlocks !== 0)
    throw new HttpError(
      400,
      `steps ${st} is not a multiple of the ${numBlocks} blocks (max_tokens / block_length)`,
      'steps',
    );
  return {
    chat,
    n,
    rows,
    knobs: {
      genLength,
      blockLength: block,
      steps: st,
      temperature,
      remasking: remasking ?? 'low_confidence',
      cfgScale,
      threshold,
      cache,
      logitsEosInf,
      confidenceEosEotInf,
    },
    stop,
    stream,
    includeUsage,
    dllmSteps,
  };
}
