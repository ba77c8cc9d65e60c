// `dllm-wgpu sample`: LLaDA block-wise generation from a checkpoint, in chat, raw or infill mode,
// with a live denoising view on a TTY, plain text otherwise, or one JSON object per prompt.
import { readFileSync, existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { DeviceOptions } from '../engine/device.ts';
import { UserError } from '../engine/errors.ts';
import { action, loadProgress, log, parseFloatOpt, parseIntOpt, withDevice } from './run.ts';
import { loadModel } from '../model/io.ts';
import { endTokenIds } from '../model/tokenizer.ts';
import { generate, infill, trimEnd, type GenerateOptions } from '../sample/generate.ts';
import { modelDenoiser, type CacheMode } from '../sample/denoiser.ts';
import { buildPrompts, type SampleMode } from '../sample/prompt.ts';
import { renderLive } from '../sample/live.ts';

interface SampleFlags {
  checkpoint: string;
  prompt: string[];
  prompts?: string;
  promptIds?: string;
  mode?: SampleMode;
  steps: number;
  genLength: number;
  blockLength: number;
  temperature: number;
  remasking: 'low_confidence' | 'random';
  cfgScale: number;
  seed: number;
  threshold?: number;
  cache: CacheMode;
  maskSpan: number;
  logitsEosInf: boolean;
  confidenceEosEotInf: boolean;
  earlyStop: boolean;
  json: boolean;
  live: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function readPromptsFile(path: string): string[] {
  if (!existsSync(path)) throw new UserError(`--prompts file not found: ${path}`);
  const out: string[] = [];
  readFileSync(path, 'utf8')
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
      'model folder in the Hugging Face layout (config.json, safetensors, tokenizer.json)',
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
        'chat (default when the tokenizer has a chat template), raw, or infill ([MASK] spans)',
      ).choices(['chat', 'raw', 'infill']),
    )
    .option('--steps <n>', 'denoising steps in total', parseIntOpt('--steps'), 128)
    .option('--gen-length <n>', 'tokens to generate', parseIntOpt('--gen-length'), 128)
    .option(
      '--block-length <n>',
      'semi-autoregressive block size (divides gen-length)',
      parseIntOpt('--block-length'),
      32,
    )
    .option('--temperature <t>', 'Gumbel-noise temperature; 0 = greedy', parseFloatOpt('--temperature'), 0)
    .addOption(
      new Option('--remasking <kind>', 'which predictions to commit first')
        .choices(['low_confidence', 'random'])
        .default('low_confidence'),
    )
    .option('--cfg-scale <s>', 'classifier-free guidance scale (0 = off)', parseFloatOpt('--cfg-scale'), 0)
    .option('--seed <n>', 'seed for Gumbel noise and random remasking', parseIntOpt('--seed'), 0)
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
    .option('--mask-span <n>', 'infill: mask tokens per [MASK] span', parseIntOpt('--mask-span'), 8)
    .option('--logits-eos-inf', 'never predict EOS / end-of-turn (LLaDA logits_eos_inf)', false)
    .option(
      '--confidence-eos-eot-inf',
      'never commit EOS / end-of-turn by confidence (LLaDA confidence_eos_eot_inf)',
      false,
    )
    .option('--no-early-stop', 'run every block even when all rows have ended')
    .option('--no-live', 'no live denoising view on a TTY')
    .option('--json', 'one JSON object per prompt: prompt_ids, output_ids, text, nfe, seconds', false)
    .action(
      action(async (o: SampleFlags) => {
        if (!existsSync(o.checkpoint)) throw new UserError(`checkpoint folder not found: ${o.checkpoint}`);
        const texts = [...o.prompt, ...(o.prompts ? readPromptsFile(o.prompts) : [])];
        if (!texts.length && !o.promptIds)
          throw new UserError('give --prompt TEXT, --prompts FILE.jsonl or --prompt-ids 1,2,3');
        await withDevice(deviceOpts(), async (dev) => {
          const model = await loadModel(o.checkpoint, { device: dev, onTensor: loadProgress(o.checkpoint) });
          try {
            const tok = model.tokenizer;
            const built = buildPrompts({
              texts,
              promptIds: o.promptIds,
              mode: o.mode,
              tokenizer: tok,
              maskSpan: o.maskSpan,
              maskId: model.config.mask_token_id,
              checkpoint: o.checkpoint,
            });
            for (const ids of built.ids) model.checkIds(ids, 'prompt');
            const endIds = tok ? endTokenIds(tok) : [model.config.eos_token_id];
            const den = modelDenoiser(model, { cache: o.cache });
            const gopts: GenerateOptions = {
              steps: o.steps,
              genLength: o.genLength,
              blockLength: o.blockLength,
              temperature: o.temperature,
              remasking: o.remasking,
              cfgScale: o.cfgScale,
              seed: o.seed,
              maskId: model.config.mask_token_id,
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
                process.stdout.write(
                  JSON.stringify({ prompt_ids: built.ids[i], output_ids: ids, text, nfe: r.nfe, seconds: r.seconds }) +
                    '\n',
                );
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
