// Rendering a checkpoint's chat_template (Jinja, through @huggingface/jinja) within bounds: the
// template is code from a file, so its output is capped relative to the messages and range()
// inside it has a budget per render, so a damaged or hostile template cannot allocate without limit.
// Deliberately not here: LLaDA's own format (chat-format.ts), tokenization (tokenizer.ts).
import { Environment, Interpreter, type Template } from '@huggingface/jinja';
import { UserError } from '../engine/errors.ts';
import type { ChatMessage } from './chat-format.ts';

/**
 * A checkpoint's chat template is code from a file: its output is capped at CHAT_GROWTH times the
 * messages' characters plus CHAT_OVERHEAD_CHARS (a template adds role headers and markers, not
 * text proportional to anything else), and `range()` inside it yields at most RANGE_BUDGET items per
 * render, so a loop cannot allocate without limit before the cap is checked.
 */
const CHAT_GROWTH = 4,
  CHAT_OVERHEAD_CHARS = 1 << 16,
  RANGE_BUDGET = 100_000;

/** Jinja's range(stop) / range(start, stop[, step]) with a budget of items over one render. */
function boundedRange(): (...args: number[]) => number[] {
  let left = RANGE_BUDGET;
  return (...args) => {
    const [start, stop, step = 1] = args.length === 1 ? [0, args[0]] : args;
    if (step === 0) throw new Error('range() step must not be zero');
    const n = Math.max(0, Math.ceil((stop - start) / step));
    if (!(n <= left)) throw new Error(`range() past ${RANGE_BUDGET} items in one render`);
    left -= n;
    return Array.from({ length: n }, (_, i) => start + i * step);
  };
}

/**
 * The parts of @huggingface/jinja's Environment and Interpreter used here, typed here: the package's
 * .d.ts re-exports them through extensionless relative paths, which NodeNext resolution cannot
 * follow (Template, declared in its index.d.ts, resolves). Signatures as in its runtime.d.ts (0.5).
 */
interface Env {
  set(name: string, value: unknown): unknown;
}
const JinjaEnvironment = Environment as unknown as new () => Env;
const JinjaInterpreter = Interpreter as unknown as new (env: Env) => { run(program: unknown): { value: unknown } };

/**
 * Template.render with its globals (as @huggingface/jinja 0.5's setupGlobals declares them) but a
 * budgeted range(): render() declares its own range first and refuses a second declaration.
 */
function renderBounded(t: Template, items: Record<string, unknown>): string {
  const env = new JinjaEnvironment();
  const globals: Record<string, unknown> = {
    false: false,
    true: true,
    none: null,
    False: false,
    True: true,
    None: null,
    raise_exception: (msg: string) => {
      throw new Error(msg);
    },
    range: boundedRange(),
    strftime_now: strftimeNow,
  };
  for (const [k, v] of Object.entries({ ...globals, ...items })) env.set(k, v);
  return new JinjaInterpreter(env).run(t.parsed).value as string;
}

/** Python's datetime.now().strftime for the directives chat templates use (%Y %m %d %b %B %H %M %%). */
function strftimeNow(format: string): string {
  const now = new Date();
  const two = (n: number) => String(n).padStart(2, '0');
  const month = (style: 'short' | 'long') => new Intl.DateTimeFormat('en-US', { month: style }).format(now);
  const parts: Record<string, () => string> = {
    Y: () => String(now.getFullYear()),
    m: () => two(now.getMonth() + 1),
    d: () => two(now.getDate()),
    b: () => month('short'),
    B: () => month('long'),
    H: () => two(now.getHours()),
    M: () => two(now.getMinutes()),
    '%': () => '%',
  };
  return format.replace(/%(.)/g, (all, c: string) => parts[c]?.() ?? all);
}

/** The template rendered with `items`, refused past the output cap; `source` names the file in errors. */
export function renderChatTemplate(
  t: Template,
  items: Record<string, unknown>,
  messages: readonly ChatMessage[],
  source: string,
): string {
  let out: string;
  try {
    out = renderBounded(t, items);
  } catch (e) {
    throw new UserError(`${source}: chat_template failed to render (${(e as Error).message})`);
  }
  const input = messages.reduce((n, m) => n + m.content.length + m.role.length, 0);
  const cap = CHAT_OVERHEAD_CHARS + CHAT_GROWTH * input;
  if (out.length > cap) {
    throw new UserError(
      `${source}: chat_template rendered ${out.length} characters from ${input} characters of messages ` +
        `(at most ${cap}: ${CHAT_GROWTH} x the messages + ${CHAT_OVERHEAD_CHARS}); the template is damaged`,
    );
  }
  return out;
}
