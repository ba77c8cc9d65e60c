// `dllm-wgpu sample`: LLaDA block-wise generation from a checkpoint (or a run folder's newest
// one), in chat, raw or infill mode, with a live denoising view on a TTY, plain text otherwise, or
// one JSON object per prompt. Lengths the user leaves at their defaults shrink to fit a short model.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { DeviceOptions } from '../engine/device.ts';
import { UserError } from '../engine/errors.ts';
import {
  action,
  loadCheckpointModel,
  log,
  parseFloatOpt,
  parseIntOpt,
  readUserFile,
  withDevice,
  DTYPE_HELP,
  parseDtypeOpt,
} from './run.ts';
import { resolveCheckpointArg } from './checkpoint-arg.ts';
import type { GenerateOptions } from '../sample/generate.ts';
import type { CacheDTypeChoice, CacheMode } from '../sample/denoiser.ts';
import type { ParamDType } from '../model/params.ts';
import type { SampleMode } from '../sample/prompt.ts';

interface SampleFlags {
  checkpoint: string;
  adapter?: string;
  dtype: ParamDType | 'auto';
  prompt: string[];
  prompts?: string;
  promptIds?: string;
  mode?: SampleMode;
  system?: string;
  messages?: string;
  steps?: number;
  genLength: number;
  blockLength: number;
  temperature: number;
  remasking: 'low_confidence' | 'random';
  cfgScale: number;
  seed: number;
  threshold?: number;
  cache: CacheMode;
  cacheDtype: CacheDTypeChoice;
  maskSpan: number;
  logitsEosInf: boolean;
  confidenceEosEotInf: boolean;
  earlyStop: boolean;
  json: boolean;
  live: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** LLaDA's generate() defaults (gen_length 128, block_length 32) where they fit the model. */
const GEN_LENGTH = 128,
  BLOCK_LENGTH = 32;
/** NeMo AutoModel's dLLM generate.py expands each [MASK] of an infill prompt to 20 mask tokens. */
const MASK_SPAN = 20;

/** What `sample` needs once it runs, loaded then and not when the CLI starts (`--help` does not pay for it). */
async function runDeps() {
  const [{ buildPrompts, parseMessages }, { peakRssBytes }] = await Promise.all([
    import('../sample/prompt.ts'),
    import('../bench/harness.ts'),
  ]);
  return { buildPrompts, parseMessages, peakRssBytes };
}

/**
 * Gen length and block length the user did not set: LLaDA's where they fit after the longest
 * prompt, else the largest multiple of the block length that does (or all the room left, as one
 * block); a default block longer than the gen length is cut to it. What the user set is kept, and
 * checkOptions reports what does not fit.
 */
/** The upper end of `dataset.gen_length` in the training config saved beside a checkpoint, if any: a
 *  model trained on generation lengths up to G answers at G, not necessarily at longer ones. */
export async function trainedGenLength(dir: string): Promise<number | undefined> {
  const path = join(dir, 'config.toml');
  if (!existsSync(path)) return undefined;
  const { parse } = await import('smol-toml');
  try {
    const cfg = parse(readFileSync(path, 'utf8')) as { dataset?: { gen_length?: unknown } };
    const g = cfg.dataset?.gen_length;
    return Array.isArray(g) && g.length === 2 && Number.isInteger(g[1]) && (g[1] as number) > 0
      ? (g[1] as number)
      : undefined;
  } catch {
    return undefined; // a config this command cannot read only loses the hint; loading reports real problems
  }
}

function fitLengths(
  o: { genLength: number; blockLength: number },
  given: { genLength: boolean; blockLength: boolean },
  promptLen: number,
  maxLen: number,
): { genLength: number; blockLength: number; note?: string } {
  const room = maxLen - promptLen;
  let { genLength, blockLength } = o;
  if (!given.blockLength && genLength < blockLength) blockLength = genLength;
  if (given.genLength || room >= genLength || room < 1) return { genLength, blockLength };
  if (room >= blockLength) genLength = Math.floor(room / blockLength) * blockLength;
  else if (!given.blockLength) genLength = blockLength = room;
  else return { genLength, blockLength };
  const note = `gen-length ${genLength}, block-length ${blockLength}: what fits after the ${promptLen}-token prompt in the model's max_sequence_length ${maxLen} (--gen-length to choose)`;
  return { genLength, blockLength, note };
}

function readPromptsFile(path: string): string[] {
  const out: string[] = [];
  readUserFile(path, '--prompts file')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch (e) {
        throw new UserError(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
      }
      const p = typeof rec === 'string' ? rec : (rec as { prompt?: unknown })?.prompt;
      if (typeof p !== 'string') throw new UserError(`${path}:${i + 1}: expected a string or {"prompt": "..."}`);
      out.push(p);
    });
  if (!out.length) throw new UserError(`${path}: no prompts`);
  return out;
}

export function registerSample(program: Command, deviceOpts: () => DeviceOptions): void {
  program
    .command('sample')
    .description("generate from a checkpoint with LLaDA's block-wise masked-diffusion sampler (Fast-dLLM options too)")
    .requiredOption(
      '--checkpoint <dir>',
      'model folder in the Hugging Face layout (config.json, safetensors, tokenizer.json), or a training run folder (its newest complete checkpoint)',
    )
    .option('--prompt <text>', 'a prompt (repeatable)', collect, [])
    .option(
      '--prompts <file.jsonl>',
      'one prompt per line: a JSON string or {"prompt": ...}; generated as a padded batch',
    )
    .option('--prompt-ids <ids>', 'comma-separated token ids (no tokenizer needed)')
    .addOption(
      new Option(
        '--mode <mode>',
        'chat, raw, or infill ([MASK] spans in the text, as given); default: chat when the tokenizer has a chat template it can encode, else raw (the choice is printed)',
      ).choices(['chat', 'raw', 'infill']),
    )
    .option('--system <text>', 'chat: a system message opening the conversation')
    .option(
      '--messages <file.json>',
      'chat: the conversation so far, a JSON list of {"role": "system"|"user"|"assistant", "content": ...}; each --prompt is the next user turn',
    )
    .option(
      '--steps <n>',
      'denoising steps in total, at most gen-length (default: gen-length, one token per step; infill: the most [MASK] tokens of a prompt)',
      parseIntOpt('--steps', 1),
    )
    .addOption(
      new Option('--gen-length <n>', 'tokens to generate')
        .argParser(parseIntOpt('--gen-length', 1))
        .default(GEN_LENGTH, `${GEN_LENGTH}, or what fits the model after the prompt`),
    )
    .option(
      '--block-length <n>',
      'semi-autoregressive block size (divides gen-length; a longer default is cut to it); infill: blocks from the first token',
      parseIntOpt('--block-length', 1),
      BLOCK_LENGTH,
    )
    .option('--temperature <t>', 'Gumbel-noise temperature; 0 = greedy', parseFloatOpt('--temperature'), 0)
    .addOption(
      new Option('--remasking <kind>', 'which predictions to commit first')
        .choices(['low_confidence', 'random'])
        .default('low_confidence'),
    )
    .option(
      '--cfg-scale <s>',
      'classifier-free guidance scale (0 = off); the condition is the prompt (infill: the given text)',
      parseFloatOpt('--cfg-scale'),
      0,
    )
    .option('--seed <n>', 'seed for Gumbel noise and random remasking', parseIntOpt('--seed', 0), 0)
    .option(
      '--threshold <p>',
      'Fast-dLLM parallel decoding: commit every masked position with confidence >= p',
      parseFloatOpt('--threshold'),
    )
    .addOption(
      new Option(
        '--cache <kind>',
        'Fast-dLLM block KV cache: prefix (reuse prompt + finished blocks) or dual (also the masked suffix)',
      )
        .choices(['none', 'prefix', 'dual'])
        .default('none'),
    )
    .addOption(
      new Option(
        '--cache-dtype <type>',
        "storage of the --cache keys/values: f32, or bf16/f16 (half the memory; attention reads them rounded to 16 bits); auto = the weights' dtype when it is bf16/f16, else f32",
      )
        .choices(['auto', 'f32', 'bf16', 'f16'])
        .default('auto'),
    )
    .option('--mask-span <n>', 'infill: mask tokens per [MASK] span', parseIntOpt('--mask-span', 1), MASK_SPAN)
    .option('--logits-eos-inf', 'never predict EOS / end-of-turn (LLaDA logits_eos_inf)', false)
    .option(
      '--confidence-eos-eot-inf',
      'never commit EOS / end-of-turn by confidence (LLaDA confidence_eos_eot_inf)',
      false,
    )
    .option('--no-early-stop', 'run every block even when all rows have ended')
    .option('--no-live', 'no live denoising view on a TTY')
    .option('--dtype <type>', DTYPE_HELP, parseDtypeOpt, 'auto')
    .option(
      '--adapter <dir>',
      'apply a LoRA adapter (PEFT layout: adapter_config.json + adapter_model.safetensors) without merging',
    )
    .option(
      '--json',
      "one JSON object per prompt: prompt_ids, output_ids, text, mode, nfe, seconds, peak_gpu_memory_bytes (parameters + the buffer pool's high-water), peak_host_rss_bytes, kv_cache_bytes (0 without --cache) (chat: messages, the conversation with the answer)",
      false,
    )
    .action(
      action(async (o: SampleFlags, cmd: Command) => {
        const { buildPrompts, parseMessages, peakRssBytes } = await runDeps();
        const ck = resolveCheckpointArg(o.checkpoint);
        const texts = [...o.prompt, ...(o.prompts ? readPromptsFile(o.prompts) : [])];
        const messages =
          o.messages !== undefined ? parseMessages(readUserFile(o.messages, '--messages file'), o.messages) : undefined;
        if (!texts.length && !o.promptIds && !messages)
          throw new UserError('give --prompt TEXT, --prompts FILE.jsonl, --messages FILE.json or --prompt-ids 1,2,3');
        if (ck.note) log(ck.note);
        const [
          { endTokenIds },
          { generate, trimEnd },
          { infill },
          { modelDenoiser },
          { renderLive },
          { checkBatchFits },
        ] = await Promise.all([
          import('../model/tokenizer.ts'),
          import('../sample/generate.ts'),
          import('../sample/infill.ts'),
          import('../sample/denoiser.ts'),
          import('../sample/live.ts'),
          import('../model/memory-plan.ts'),
        ]);
        await withDevice(deviceOpts(), async (dev) => {
          const model = await loadCheckpointModel(dev, ck, o);
          try {
            const tok = model.tokenizer;
            const built = buildPrompts({
              texts,
              promptIds: o.promptIds,
              mode: o.mode,
              tokenizer: tok,
              maskSpan: o.maskSpan,
              maskId: model.config.mask_token_id,
              checkpoint: ck.dir,
              system: o.system,
              messages,
            });
            if (built.reason) log(`mode ${built.mode}: ${built.reason} (--mode to choose)`);
            for (const ids of built.ids) model.checkIds(ids, 'prompt');
            const maskId = model.config.mask_token_id;
            const given = (k: string) => cmd.getOptionValueSource(k) !== 'default';
            const promptLen = Math.max(...built.ids.map((r) => r.length));
            const trained = given('genLength') ? undefined : await trainedGenLength(ck.dir);
            if (trained !== undefined && built.mode !== 'infill') {
              o.genLength = trained;
              log(
                `gen-length ${trained}: the longest the checkpoint was trained to generate (dataset.gen_length in its config.toml; --gen-length to choose)`,
              );
            }
            const fit =
              built.mode === 'infill'
                ? o
                : fitLengths(
                    o,
                    { genLength: given('genLength'), blockLength: given('blockLength') },
                    promptLen,
                    model.config.max_sequence_length,
                  );
            if ('note' in fit && fit.note) log(fit.note);
            const masks = Math.max(...built.ids.map((r) => r.filter((t) => t === maskId).length));
            const endIds = tok ? endTokenIds(tok) : [model.config.eos_token_id];
            const rows = built.ids.length * (o.cfgScale > 0 ? 2 : 1); // guidance runs an unconditioned copy
            const seq = built.mode === 'infill' ? promptLen : promptLen + fit.genLength;
            const cacheBytes = o.cache === 'none' ? 0 : o.cacheDtype === 'bf16' || o.cacheDtype === 'f16' ? 2 : 4;
            // Refused before the sampler allocates: prompts and lengths whose activations and KV cache
            // cannot fit beside the model (a 16-bit auto cache is counted at f32 width, an upper bound).
            checkBatchFits(
              model,
              { rows, seq, kvCacheBytes: cacheBytes, logitsRows: rows * fit.blockLength },
              'sample',
              'give fewer prompts at once, a shorter --gen-length or prompt, or --cache-dtype bf16',
            );
            const den = modelDenoiser(model, { cache: o.cache, cacheDtype: o.cacheDtype });
            if (o.cache !== 'none') log(`KV cache: ${den.cacheDtype}`);
            // peak memory of this process's sampling: parameters + the pool's high-water (GPU), VmHWM (host)
            let paramBytes = 0;
            for (const t of model.params.params.values()) paramBytes += t.byteLength;
            const memoryFigures = () => ({
              peak_gpu_memory_bytes: paramBytes + model.rt.pool.stats.highWaterBytes,
              peak_host_rss_bytes: peakRssBytes() || process.memoryUsage().rss,
            });
            const gopts: GenerateOptions = {
              steps: o.steps ?? (built.mode === 'infill' ? Math.max(1, masks) : fit.genLength),
              genLength: fit.genLength,
              blockLength: fit.blockLength,
              temperature: o.temperature,
              remasking: o.remasking,
              cfgScale: o.cfgScale,
              seed: o.seed,
              maskId,
              endIds,
              logitsEosInf: o.logitsEosInf,
              confidenceEosEotInf: o.confidenceEosEotInf,
              threshold: o.threshold,
              earlyStop: o.earlyStop,
              onStep:
                o.live && process.stderr.isTTY && !o.json
                  ? (s) => renderLive(s, tok, model.config.mask_token_id)
                  : undefined,
            };
            const pad = tok?.eosId ?? model.config.eos_token_id;
            const r =
              built.mode === 'infill'
                ? await infill(den, built.ids, pad, model.config.max_sequence_length, gopts)
                : await generate(den, built.ids, pad, model.config.max_sequence_length, gopts);
            den.dispose();
            if (gopts.onStep) process.stderr.write('\n');
            r.outputIds.forEach((ids, i) => {
              const kept = built.mode === 'infill' ? ids : trimEnd(ids, endIds, model.config.mask_token_id);
              const text = tok ? tok.decode(kept, { skipSpecial: true }) : undefined;
              if (o.json) {
                const conv = built.conversations?.[i];
                const rec = {
                  prompt_ids: built.ids[i],
                  output_ids: ids,
                  text,
                  mode: built.mode,
                  nfe: r.nfe,
                  seconds: r.seconds,
                  ...memoryFigures(),
                  kv_cache_bytes: den.cacheBytes,
                  ...(conv ? { messages: [...conv, { role: 'assistant', content: text ?? '' }] } : {}),
                };
                process.stdout.write(JSON.stringify(rec) + '\n');
              } else {
                process.stdout.write((text ?? ids.join(' ')) + '\n');
              }
            });
            if (!o.json) log(`${r.nfe} forward evaluations, ${r.seconds.toFixed(2)} s`);
          } finally {
            model.dispose();
          }
        });
      }),
    );
}
