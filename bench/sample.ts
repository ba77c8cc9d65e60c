// `dllm-wgpu bench sample`: decoding the held-out addition prompts with the trained default model:
// LLaDA's plain schedule (one token per step), Fast-dLLM's confidence threshold, and the threshold
// with the prefix and dual block caches. Reported: exact-match accuracy, forward evaluations,
// model FLOPs per generated token (2 * params per evaluated token + 4 * C * L per attention
// query-key pair), generated tokens/s, and the agreement of each output with plain decoding.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Device } from '../engine/device.ts';
import { loadModel } from '../model/io.ts';
import { exactMatch, type ExactMatchResult } from '../sample/exact-match.ts';
import type { CacheMode } from '../sample/denoiser.ts';
import { checkTaskAnswer, taskExamples } from '../train/tasks.ts';
import { newestCheckpoint } from '../train/checkpoint-dir.ts';
import type { BenchResult } from './harness.ts';

export const SAMPLE_SETTINGS: { name: string; threshold?: number; cache: CacheMode }[] = [
  { name: 'plain (LLaDA, 1 token/step)', cache: 'none' },
  { name: 'threshold 0.9', threshold: 0.9, cache: 'none' },
  { name: 'threshold 0.9 + prefix cache', threshold: 0.9, cache: 'prefix' },
  { name: 'threshold 0.9 + dual cache', threshold: 0.9, cache: 'dual' },
];

export function defaultCheckpoint(): string | undefined {
  const run = join('runs', 'addition');
  return existsSync(run) ? newestCheckpoint(run)?.path : undefined;
}

export async function benchSample(
  dev: Device,
  checkpoint: string | undefined,
  limit: number,
  log: (s: string) => void,
): Promise<BenchResult[]> {
  if (!checkpoint || !existsSync(checkpoint)) {
    log('bench sample: skipped: no trained default model (run `dllm-wgpu train` first, or pass --checkpoint)');
    return [];
  }
  const model = await loadModel(checkpoint, { device: dev });
  const tok = model.tokenizer!;
  const C = model.config.d_model,
    L = model.config.n_layers;
  let prompts = taskExamples({ task: 'addition', split: 'heldout', splitSeed: 1234, nHeldout: 500, nExamples: 0 }).map(
    (e) => e.prompt,
  );
  if (limit > 0) prompts = prompts.slice(0, limit);
  const out: BenchResult[] = [];
  let plain: ExactMatchResult | null = null;
  for (const s of SAMPLE_SETTINGS) {
    // warm-up (pipeline compiles) on a few prompts, then the measured pass
    await exactMatch(model, tok, prompts.slice(0, 8), () => true, {
      seqLength: 10,
      cache: s.cache,
      gen: { threshold: s.threshold },
    });
    const r = await exactMatch(model, tok, prompts, (p, o) => checkTaskAnswer('addition', p, o), {
      seqLength: 10,
      cache: s.cache,
      gen: { threshold: s.threshold },
    });
    plain ??= r;
    const flops = 2 * model.params.count * r.tokensEvaluated + 4 * C * L * r.attnPairs;
    const agree = r.examples.filter((e, i) => e.output === plain!.examples[i].output).length / r.examples.length;
    const perTok = flops / r.generated;
    out.push({
      case: `sample ${s.name}`,
      shape: `${prompts.length} held-out addition prompts, batch 256`,
      ms_median: (r.seconds * 1000) / r.generated,
      ms_min: NaN,
      ms_max: NaN,
      compile_ms: 0,
      verified: `accuracy ${(r.accuracy * 100).toFixed(1)}%`,
      peer: {},
      extra: {
        accuracy: r.accuracy,
        nfe: r.nfe,
        flops_per_generated_token: perTok,
        tokens_per_sec: r.generated / r.seconds,
        seconds: r.seconds,
        agreement_with_plain: agree,
        flops_reduction_vs_plain: out.length ? (out[0].extra!.flops_per_generated_token as number) / perTok : 1,
        speedup_vs_plain: out.length ? r.generated / r.seconds / (out[0].extra!.tokens_per_sec as number) : 1,
      },
    });
  }
  model.dispose();
  return out;
}
