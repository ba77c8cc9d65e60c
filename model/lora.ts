// LoRA adapters on LLaDA's block linears (Hu et al. 2021, "LoRA", eq. 3; NeMo AutoModel's
// LinearLoRA in nemo_automodel/components/_peft/lora.py): y = W x + s * B A x with A [r, in],
// B [out, r], s = alpha / r (alpha / sqrt(r) under rsLoRA, Kalajdzievski 2023). The base W stays
// as loaded (bf16, f16 or f32) and frozen; A and B are f32 in their own parameter store, the only
// tensors with gradients and AdamW moments. Gradients reach earlier layers through W (linear's dX
// reads 16-bit W directly). Dropout (training only) is NeMo's: on x ("pre") or on the scaled LoRA
// output ("post"), inverted (kept values / (1 - p)); its masks are Philox draws keyed by (seed,
// step, micro-batch, layer, module), so a recomputed forward redraws the same mask.
// Deliberately not here: which modules (lora-match.ts), files (peft.ts), merging (lora-merge.ts).
import type { Runtime } from '../engine/runtime.ts';
import { tensor, type Tensor } from '../engine/tensor.ts';
import { isGradEnabled } from '../engine/autograd.ts';
import { EngineError, UserError } from '../engine/errors.ts';
import { add, mul, scale } from '../kernels/elementwise/elementwise.ts';
import { linear } from '../kernels/matmul/matmul.ts';
import { philoxUniform, streamOf, STREAM_TAG } from '../kernels/rng/philox.ts';
import { LORA_MODULES, type LoraModule } from './lora-match.ts';
import { ParamStore } from './params.ts';

export interface LoraModuleSpec extends LoraModule {
  rank: number;
  /** s: the LoRA update's scale. */
  scale: number;
}

export interface LoraOptions {
  dropout: number;
  dropoutPosition: 'pre' | 'post';
}

/** Which draws a training forward's dropout uses; unset = no dropout (evaluation, sampling). */
export interface DropoutKey {
  seed: number;
  step: number;
  micro: number;
}

export const loraAName = (path: string) => `${path}.lora_A.weight`;
export const loraBName = (path: string) => `${path}.lora_B.weight`;

export class LoraAdapters {
  readonly params: ParamStore;
  readonly modules = new Map<string, LoraModuleSpec>();
  dropoutKey: DropoutKey | null = null;

  constructor(
    readonly rt: Runtime,
    modules: readonly LoraModuleSpec[],
    readonly opts: LoraOptions,
  ) {
    for (const m of modules) {
      if (!Number.isInteger(m.rank) || m.rank < 1 || m.rank > Math.min(m.inF, m.outF)) {
        throw new UserError(
          `LoRA rank ${m.rank} for ${m.path} must be an integer from 1 to the layer's smaller dimension ` +
            `${Math.min(m.inF, m.outF)} (its weight is [${m.outF}, ${m.inF}])`,
        );
      }
      this.modules.set(m.path, m);
    }
    this.params = new ParamStore(
      rt,
      modules.flatMap((m) => [
        { name: loraAName(m.path), shape: [m.rank, m.inF] },
        { name: loraBName(m.path), shape: [m.outF, m.rank] },
      ]),
    );
  }

  /** Trainable parameters (A and B of every module). */
  get count(): number {
    return this.params.count;
  }

  /**
   * Fresh adapters: A uniform in +-bound (xavier: Glorot & Bengio 2010's sqrt(6 / (in + r));
   * uniform: PyTorch Linear's default, kaiming_uniform with a = sqrt(5), i.e. 1 / sqrt(in)), B = 0,
   * so the adapted model starts equal to the base. Draws: Philox stream loraInit per module.
   */
  initialise(init: 'xavier' | 'uniform', seed: number): void {
    const flat = new Float32Array(this.params.totalFloats);
    [...this.modules.values()].forEach((m, i) => {
      const bound = init === 'xavier' ? Math.sqrt(6 / (m.inF + m.rank)) : 1 / Math.sqrt(m.inF);
      const u = philoxUniform(seed, streamOf(STREAM_TAG.loraInit, i, 0), m.rank * m.inF);
      const off = this.params.offsets.get(loraAName(m.path))!;
      for (let k = 0; k < u.length; k++) flat[off + k] = (2 * u[k] - 1) * bound;
    });
    this.params.writeArena('param', flat);
  }

  /** The inverted-dropout mask for one module's input or output (N, F), drawn on the host. */
  private mask(m: LoraModuleSpec, shape: readonly number[]): Tensor {
    return tensor(this.rt, this.maskValues(m, shape), shape, 'f32', `lora_dropout:${m.path}`);
  }

  /** Mask values (0 or 1 / (1 - p)) under the current dropoutKey: a function of (seed, step, micro, layer, module). */
  maskValues(m: LoraModuleSpec, shape: readonly number[]): Float32Array {
    const k = this.dropoutKey;
    if (!k) throw new EngineError('LoRA dropout: no dropout key set');
    const p = this.opts.dropout;
    const sub = (k.micro * 64 + m.layer) * LORA_MODULES.length + LORA_MODULES.indexOf(m.name);
    if (m.layer >= 64 || sub >= 1 << 24) {
      throw new EngineError(`LoRA dropout: micro-batch ${k.micro}, layer ${m.layer} exceed the stream's key space`);
    }
    const n = shape.reduce((a, d) => a * d, 1);
    const u = philoxUniform(k.seed, streamOf(STREAM_TAG.loraDropout, k.step, sub), n);
    const keep = 1 / (1 - p);
    for (let i = 0; i < n; i++) u[i] = u[i] >= p ? keep : 0;
    return u;
  }

  /** y = base + s * B A x (with dropout in training), for module `path`; base itself when not adapted. */
  apply(path: string, x: Tensor, base: Tensor): Tensor {
    const m = this.modules.get(path);
    if (!m) return base;
    const A = this.params.get(loraAName(path));
    const B = this.params.get(loraBName(path));
    const drop = this.opts.dropout > 0 && this.dropoutKey !== null && isGradEnabled();
    if (drop && this.opts.dropoutPosition === 'pre') x = mul(x, this.mask(m, x.shape));
    if (drop && this.opts.dropoutPosition === 'post') {
      const y = scale(linear(linear(x, A), B), m.scale);
      return add(base, mul(y, this.mask(m, y.shape)));
    }
    // Scaling the rank-r intermediate costs r/out of scaling the output.
    return add(base, linear(scale(linear(x, A), m.scale), B));
  }

  dispose(): void {
    this.params.dispose();
  }
}
