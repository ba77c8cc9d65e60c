// Putting LoRA adapters on a loaded model and taking them off to disk: fresh adapters for a [peft]
// training run (NeMo's module rules, lora-match.ts), a PEFT adapter folder applied without merging
// (`sample --adapter`, `eval --adapter`, resume), and a model's adapters saved in PEFT's layout.
import type { ModelConfig } from './config.ts';
import type { LLaDAModel } from './llada.ts';
import { selectNemoTargets } from './lora-match.ts';
import { LoraAdapters, loraAName, loraBName, type LoraOptions } from './lora.ts';
import { adapterConfigFor, readPeftAdapter, writePeftAdapter, type HostAdapter } from './peft.ts';

export interface NewLoraOptions extends LoraOptions {
  target_modules: readonly string[];
  exclude_modules: readonly string[];
  match_all_linear: boolean;
  dim: number;
  alpha: number;
  init: 'xavier' | 'uniform';
  seed: number;
}

/** The modules a [peft] section selects on a base of config `cfg`, with rank and scale (alpha / dim). */
export function loraSpecs(cfg: ModelConfig, o: Omit<NewLoraOptions, keyof LoraOptions | 'init' | 'seed'>) {
  return selectNemoTargets(cfg, o).map((m) => ({ ...m, rank: o.dim, scale: o.alpha / o.dim }));
}

/** Fresh adapters (A initialised, B = 0) on every module the options select; the model must have none. */
export function addLora(model: LLaDAModel, o: NewLoraOptions): LoraAdapters {
  model.lora?.dispose();
  const lora = new LoraAdapters(model.rt, loraSpecs(model.config, o), o);
  lora.initialise(o.init, o.seed);
  model.lora = lora;
  return lora;
}

/** Apply an adapter read from disk (no merge): A and B uploaded, the base untouched. */
export function attachAdapter(model: LLaDAModel, host: HostAdapter, o?: Partial<LoraOptions>): LoraAdapters {
  model.lora?.dispose();
  const lora = new LoraAdapters(model.rt, host.modules, {
    dropout: o?.dropout ?? host.config.lora_dropout ?? 0,
    dropoutPosition: o?.dropoutPosition ?? 'post',
  });
  const flat = new Float32Array(lora.params.totalFloats);
  for (const m of host.modules) {
    flat.set(m.A, lora.params.offsets.get(loraAName(m.path)));
    flat.set(m.B, lora.params.offsets.get(loraBName(m.path)));
  }
  lora.params.writeArena('param', flat);
  model.lora = lora;
  return lora;
}

/** Read a PEFT adapter folder and apply it to `model`. */
export function loadAdapter(model: LLaDAModel, dir: string, o?: Partial<LoraOptions>): LoraAdapters {
  return attachAdapter(model, readPeftAdapter(dir, model.config), o);
}

/** The model's adapters as adapter_config.json + adapter_model.safetensors in `dir`. */
export async function saveAdapter(
  model: LLaDAModel,
  dir: string,
  o: { r: number; alpha: number; dropout: number; base: string },
): Promise<void> {
  const lora = model.lora!;
  const flat = await lora.params.readArena('param');
  const mods = [...lora.modules.values()];
  await writePeftAdapter(
    dir,
    adapterConfigFor(mods, o),
    mods.map((m) => ({
      path: m.path,
      A: [m.rank, m.inF],
      B: [m.outF, m.rank],
      read: (ab) => {
        const name = ab === 'A' ? loraAName(m.path) : loraBName(m.path);
        const off = lora.params.offsets.get(name)!;
        return Promise.resolve(flat.slice(off, off + m.rank * (ab === 'A' ? m.inF : m.outF)));
      },
    })),
  );
}
