// What a training checkpoint holds besides the model (model/io.ts's Hugging Face layout):
// optimizer.safetensors with AdamW's moments per parameter (`<name>.exp_avg`, `<name>.exp_avg_sq`;
// plus `<name>.master` f32 weights when the model is saved in bf16, so resuming is exact),
// trainer_state.json (step, data position, last loss) and the resolved config.toml.
// A LoRA run's checkpoint holds the adapter in PEFT's layout (model/peft.ts) instead of the model,
// and the moments of the adapters only: the frozen base is found again through
// adapter_config.json's base_model_name_or_path (the run's model.path).
// The RNG needs no state: every draw is keyed by (seed, step, sample) (train/mdlm.ts).
// Writing goes through train/checkpoint-dir.ts: temporary folder, fsync, COMPLETE marker, rename.
import { readFileSync } from 'node:fs';
import { writeFileChecked } from '../model/atomic-file.ts';
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
  const write = async (tmp: string) => {
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
    writeFileChecked(
      join(tmp, 'trainer_state.json'),
      JSON.stringify({ ...st, format: 'dllm-wgpu-trainer-state/1' }, null, 2) + '\n',
    );
    writeFileChecked(join(tmp, 'config.toml'), o.configToml);
  };
  let path: string;
  try {
    path = await commitCheckpoint(runDir, st.step, write);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code !== 'string' || !code.startsWith('E')) throw e;
    throw new UserError(
      `cannot save the step ${st.step} checkpoint in ${runDir} (${(e as Error).message}); nothing of it was kept, ` +
        'the earlier checkpoints are intact',
    );
  }
  if (o.keepLast > 0) pruneCheckpoints(runDir, o.keepLast);
  return path;
}

/** Every field of trainer_state.json with its type, before any of it is used (a hand-edited file, a torn copy). */
function checkTrainerState(st: unknown, path: string): asserts st is TrainerState {
  const bad = (what: string) => {
    throw new UserError(`${path}: ${what}; this checkpoint cannot be resumed (resume from another one)`);
  };
  if (st === null || typeof st !== 'object' || Array.isArray(st)) return bad('expected a JSON object');
  const s = st as Record<string, unknown>;
  if (s.format !== 'dllm-wgpu-trainer-state/1') bad(`unknown format ${JSON.stringify(s.format)}`);
  const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!count(s.step)) bad(`step must be an integer >= 0, got ${JSON.stringify(s.step)}`);
  if (!count(s.seed)) bad(`seed must be an integer >= 0, got ${JSON.stringify(s.seed)}`);
  const d = s.data_position as Record<string, unknown> | null;
  if (d === null || typeof d !== 'object' || !count(d.epoch) || !count(d.index)) {
    bad(`data_position must be {"epoch": integer >= 0, "index": integer >= 0}, got ${JSON.stringify(d)}`);
  }
  if (typeof s.loss !== 'number' && s.loss !== null) bad(`loss must be a number, got ${JSON.stringify(s.loss)}`);
}

function readTrainerState(dir: string): TrainerState {
  let state: unknown;
  try {
    state = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8').replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new UserError(
      `${dir}: cannot read trainer_state.json (${(e as Error).message}); is this a training checkpoint?`,
    );
  }
  checkTrainerState(state, join(dir, 'trainer_state.json'));
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
