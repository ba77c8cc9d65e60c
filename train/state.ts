// What a training checkpoint holds besides the model (model/io.ts's Hugging Face layout):
// optimizer.safetensors with AdamW's moments per parameter (`<name>.exp_avg`, `<name>.exp_avg_sq`;
// plus `<name>.master` f32 weights when the model is saved in bf16, so resuming is exact),
// trainer_state.json (step, data position, last loss) and the resolved config.toml.
// A LoRA run's checkpoint holds the adapter in PEFT's layout (model/peft.ts) instead of the model,
// and the moments of the adapters only: the frozen base is found again through
// adapter_config.json's base_model_name_or_path (the run's model.path).
// The RNG needs no state: every draw is keyed by (seed, step, sample) (train/mdlm.ts).
// Writing goes through train/checkpoint-dir.ts: temporary folder, fsync, COMPLETE marker, rename.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../engine/errors.ts';
import type { LLaDAModel } from '../model/llada.ts';
import { saveModel, loadModel } from '../model/io.ts';
import { loadAdapter, saveAdapter } from '../model/lora-io.ts';
import type { LoraOptions } from '../model/lora.ts';
import type { ParamStore } from '../model/params.ts';
import { writeSafetensors } from '../model/safetensors-write.ts';
import { SafetensorsFile } from '../model/safetensors.ts';
import type { Runtime } from '../engine/runtime.ts';
import type { DataPosition } from './data-order.ts';
import { commitCheckpoint, pruneCheckpoints } from './checkpoint-dir.ts';

export interface TrainerState {
  step: number;
  data_position: DataPosition;
  loss: number;
  seed: number;
  format: 'dllm-wgpu-trainer-state/1';
}

export async function saveCheckpoint(
  runDir: string,
  model: LLaDAModel,
  st: Omit<TrainerState, 'format'>,
  o: {
    dtype: 'f32' | 'bf16';
    configToml: string;
    keepLast: number;
    /** A LoRA run: what adapter_config.json records. */
    lora?: { r: number; alpha: number; dropout: number; base: string };
  },
): Promise<string> {
  const P = model.lora ? model.lora.params : model.params;
  const path = await commitCheckpoint(runDir, st.step, async (tmp) => {
    if (model.lora) await saveAdapter(model, tmp, o.lora!);
    else await saveModel(model, tmp, { dtype: o.dtype === 'bf16' ? 'BF16' : 'F32' });
    // Test hook: hold the half-written checkpoint open so a test can SIGKILL the process mid-write.
    const pause = Number(process.env.DLLM_WGPU_TEST_CKPT_PAUSE_MS ?? 0);
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    const m = await P.readArena('m');
    const v = await P.readArena('v');
    const master = o.dtype === 'bf16' && !model.lora ? await P.readArena('param') : null;
    const tensors = P.order.flatMap((p) => {
      const off = P.offsets.get(p.name)!;
      const n = p.shape.reduce((a, d) => a * d, 1);
      const out = [
        { name: `${p.name}.exp_avg`, shape: p.shape, data: m.subarray(off, off + n) },
        { name: `${p.name}.exp_avg_sq`, shape: p.shape, data: v.subarray(off, off + n) },
      ];
      if (master) out.push({ name: `${p.name}.master`, shape: p.shape, data: master.subarray(off, off + n) });
      return out;
    });
    await writeSafetensors(join(tmp, 'optimizer.safetensors'), tensors, { dtype: 'F32' });
    writeFileSync(
      join(tmp, 'trainer_state.json'),
      JSON.stringify({ ...st, format: 'dllm-wgpu-trainer-state/1' }, null, 2) + '\n',
    );
    writeFileSync(join(tmp, 'config.toml'), o.configToml);
  });
  if (o.keepLast > 0) pruneCheckpoints(runDir, o.keepLast);
  return path;
}

function readTrainerState(dir: string): TrainerState {
  let state: TrainerState;
  try {
    state = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')) as TrainerState;
  } catch (e) {
    throw new UserError(
      `${dir}: cannot read trainer_state.json (${(e as Error).message}); is this a training checkpoint?`,
    );
  }
  const format: string = state.format; // read from a file: the type says what it should be, not what it is
  if (format !== 'dllm-wgpu-trainer-state/1')
    throw new UserError(`${dir}/trainer_state.json: unknown format ${format}`);
  return state;
}

/** Load model weights, optimizer moments and trainer state from a complete checkpoint. */
export async function loadCheckpoint(dir: string, rt: Runtime): Promise<{ model: LLaDAModel; state: TrainerState }> {
  const state = readTrainerState(dir);
  const model = await loadModel(dir, { device: rt, dtype: 'f32' }); // training keeps f32 master weights
  loadMoments(dir, model.params);
  return { model, state };
}

/** A LoRA run's checkpoint onto its already loaded base: the adapters, their moments, the trainer state. */
export function loadLoraCheckpoint(dir: string, model: LLaDAModel, o: LoraOptions): TrainerState {
  const state = readTrainerState(dir);
  loadMoments(dir, loadAdapter(model, dir, o).params);
  return state;
}

function loadMoments(dir: string, P: ParamStore): void {
  const opt = SafetensorsFile.open(join(dir, 'optimizer.safetensors'));
  try {
    const m = new Float32Array(P.totalFloats),
      v = new Float32Array(P.totalFloats);
    let master: Float32Array | null = null;
    for (const p of P.order) {
      const off = P.offsets.get(p.name)!;
      const n = p.shape.reduce((a, d) => a * d, 1);
      m.set(opt.readTensor(`${p.name}.exp_avg`), off);
      v.set(opt.readTensor(`${p.name}.exp_avg_sq`), off);
      if (opt.has(`${p.name}.master`)) {
        master ??= new Float32Array(P.totalFloats);
        master.set(opt.readTensor(`${p.name}.master`).subarray(0, n), off);
      }
    }
    P.writeArena('m', m);
    P.writeArena('v', v);
    if (master) P.writeArena('param', master);
  } finally {
    opt.close();
  }
}
