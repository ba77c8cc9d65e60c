// LoRA adapters on disk in Hugging Face PEFT's layout (peft/tuners/lora/config.py, LoraConfig;
// peft/utils/save_and_load.py): adapter_config.json (peft_type "LORA", r, lora_alpha, lora_dropout,
// target_modules, base_model_name_or_path, ...) and adapter_model.safetensors whose tensors are
// named base_model.model.<module path>.lora_A.weight [r, in] and .lora_B.weight [out, r], as PEFT
// names them for a model wrapped by PeftModelForCausalLM (the adapter name "default" left out).
// Reading honours what a PEFT adapter from elsewhere may carry (use_rslora, rank_pattern,
// alpha_pattern, regex or list target_modules) and refuses what this engine does not apply
// (DoRA, modules_to_save, trained biases, fan_in_fan_out). Deliberately not here: GPU upload
// (attachAdapter in lora-load.ts), merging (lora-merge.ts).
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../engine/errors.ts';
import type { ModelConfig } from './config.ts';
import { blockLinears, patternValue, peftTargets, targetRegex, type LoraModule } from './lora-match.ts';
import type { LoraModuleSpec } from './lora.ts';
import { SafetensorsFile } from './safetensors.ts';
import { writeSafetensors, type TensorSource } from './safetensors-write.ts';
import { writeFileAtomic } from './atomic-file.ts';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
const PEFT_PREFIX = 'base_model.model.';

/** The adapter_config.json keys this project writes (PEFT's LoraConfig names). */
export interface AdapterConfig {
  peft_type: 'LORA';
  task_type: string | null;
  base_model_name_or_path: string | null;
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: string | string[] | null;
  bias: string;
  fan_in_fan_out: boolean;
  use_rslora: boolean;
  use_dora: boolean;
  modules_to_save: string[] | null;
  rank_pattern: Record<string, number>;
  alpha_pattern: Record<string, number>;
  inference_mode: boolean;
  init_lora_weights: boolean;
  layers_to_transform: number[] | null;
  layers_pattern: string | null;
  revision: string | null;
}

export const peftTensorName = (path: string, ab: 'A' | 'B') => `${PEFT_PREFIX}${path}.lora_${ab}.weight`;

/** adapter_config.json for adapters trained here: one rank and alpha for every module. */
export function adapterConfigFor(
  modules: readonly LoraModule[],
  o: { r: number; alpha: number; dropout: number; base: string },
): AdapterConfig {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: o.base,
    r: o.r,
    lora_alpha: o.alpha,
    lora_dropout: o.dropout,
    target_modules: targetRegex(modules),
    bias: 'none',
    fan_in_fan_out: false,
    use_rslora: false,
    use_dora: false,
    modules_to_save: null,
    rank_pattern: {},
    alpha_pattern: {},
    inference_mode: true,
    init_lora_weights: true,
    layers_to_transform: null,
    layers_pattern: null,
    revision: null,
  };
}

/** Write both files into `dir` (each atomically); tensors stream from `read` (f32). */
export async function writePeftAdapter(
  dir: string,
  config: AdapterConfig,
  tensors: {
    path: string;
    A: TensorSource['shape'];
    B: TensorSource['shape'];
    read(ab: 'A' | 'B'): Promise<Float32Array>;
  }[],
): Promise<void> {
  const sources: TensorSource[] = tensors.flatMap((t) =>
    (['A', 'B'] as const).map((ab) => ({
      name: peftTensorName(t.path, ab),
      shape: ab === 'A' ? t.A : t.B,
      data: () => t.read(ab),
    })),
  );
  mkdirSync(dir, { recursive: true });
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS), sources, { dtype: 'F32', metadata: { format: 'pt' } });
  writeFileAtomic(join(dir, ADAPTER_CONFIG), JSON.stringify(config, null, 2) + '\n');
}

export interface HostAdapter {
  config: AdapterConfig;
  modules: (LoraModuleSpec & { A: Float32Array; B: Float32Array })[];
}

function readConfig(dir: string): AdapterConfig {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`adapter folder not found: ${dir}`);
  const path = join(dir, ADAPTER_CONFIG);
  if (!existsSync(path)) {
    throw new UserError(
      `${dir} has no ${ADAPTER_CONFIG}: give a PEFT LoRA adapter folder (a LoRA run's step-NNNNNN checkpoint is one)`,
    );
  }
  let c: Partial<AdapterConfig>;
  try {
    c = JSON.parse(readFileSync(path, 'utf8')) as Partial<AdapterConfig>;
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const bad = (what: string) => new UserError(`${path}: ${what}`);
  if (c.peft_type !== 'LORA')
    throw bad(`peft_type ${JSON.stringify(c.peft_type)} is not "LORA"; only LoRA adapters load`);
  if (c.use_dora) throw bad('use_dora = true: DoRA adapters are not supported here (merge them with PEFT first)');
  if (c.modules_to_save && c.modules_to_save.length > 0) {
    throw bad(`modules_to_save ${JSON.stringify(c.modules_to_save)}: fully trained extra modules are not supported`);
  }
  if ((c.bias ?? 'none') !== 'none') throw bad(`bias = "${c.bias}": LLaDA's linears have no bias; only "none" loads`);
  if (c.fan_in_fan_out) throw bad('fan_in_fan_out = true is for Conv1D layers; LLaDA uses Linear ([out, in])');
  if (!Number.isInteger(c.r) || (c.r ?? 0) < 1) throw bad(`r must be a positive integer, got ${JSON.stringify(c.r)}`);
  if (typeof c.lora_alpha !== 'number') throw bad(`lora_alpha must be a number, got ${JSON.stringify(c.lora_alpha)}`);
  return c as AdapterConfig;
}

/** Read a PEFT LoRA adapter for a base of config `cfg`, checking every tensor against the base's shapes. */
export function readPeftAdapter(dir: string, cfg: ModelConfig): HostAdapter {
  const config = readConfig(dir);
  const wpath = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(wpath)) throw new UserError(`${dir} has ${ADAPTER_CONFIG} but no ${ADAPTER_WEIGHTS}`);
  const linears = new Map(blockLinears(cfg).map((m) => [m.path, m]));
  const f = SafetensorsFile.open(wpath);
  try {
    const paths = new Set<string>();
    for (const name of f.names()) {
      const m = /^base_model\.model\.(.+)\.lora_[AB](?:\.default)?\.weight$/.exec(name);
      if (!m) throw new UserError(`${wpath}: tensor "${name}" is not a LoRA A/B weight in PEFT's naming`);
      paths.add(m[1]);
    }
    const modules: HostAdapter['modules'] = [];
    for (const path of [...linears.keys()].filter((p) => paths.has(p))) {
      const lin = linears.get(path)!;
      if (!peftTargets(config.target_modules, path)) {
        throw new UserError(`${wpath}: holds weights for ${path}, which target_modules does not select`);
      }
      const rank = patternValue(config.rank_pattern, path) ?? config.r;
      const alpha = patternValue(config.alpha_pattern, path) ?? config.lora_alpha;
      const get = (ab: 'A' | 'B', want: number[]) => {
        const name = [peftTensorName(path, ab), `${PEFT_PREFIX}${path}.lora_${ab}.default.weight`].find((n) =>
          f.has(n),
        );
        if (!name) throw new UserError(`${wpath}: ${path} has no lora_${ab} weight`);
        const shape = f.info(name).shape;
        if (shape.length !== 2 || shape[0] !== want[0] || shape[1] !== want[1]) {
          throw new UserError(
            `${wpath}: ${name} is [${shape.join(', ')}], expected [${want.join(', ')}] for this base's ${path} ` +
              `([${lin.outF}, ${lin.inF}], rank ${rank}): is the adapter for another base model?`,
          );
        }
        return f.readTensor(name);
      };
      const A = get('A', [rank, lin.inF]);
      const B = get('B', [lin.outF, rank]);
      const scale = config.use_rslora ? alpha / Math.sqrt(rank) : alpha / rank;
      modules.push({ ...lin, rank, scale, A, B });
      paths.delete(path);
    }
    if (paths.size > 0) {
      const first = [...paths][0];
      throw new UserError(
        `${wpath}: holds weights for ${first}, which is not a block linear of this base ` +
          `(${cfg.n_layers} layers): is the adapter for another base model?`,
      );
    }
    if (modules.length === 0) throw new UserError(`${wpath}: no LoRA weights`);
    return { config, modules };
  } finally {
    f.close();
  }
}
