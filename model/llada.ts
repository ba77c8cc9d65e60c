// LLaDA's bidirectional transformer on the engine, as GSAI-ML/LLaDA's modeling_llada.py
// (LLaDALlamaBlock) computes it: token embedding (no position embedding); per block
// RMSNorm -> q/k/v -> RoPE (half-rotated) on q, k -> full attention (no causal mask, GQA) ->
// attn_out -> residual; RMSNorm -> SiLU(ff_proj x) * up_proj x -> ff_out -> residual;
// final RMSNorm (ln_f) -> LM head (ff_out, or wte when weight_tying).
// Deliberately no training logic and no file formats here (io.ts, train/).
import type { Runtime } from '../engine/runtime.ts';
import { empty, tensor, type Tensor } from '../engine/tensor.ts';
import { checkpoint, noGradAsync, reshape } from '../engine/autograd.ts';
import { UserError } from '../engine/errors.ts';
import { add, scale } from '../kernels/elementwise/elementwise.ts';
import { linear } from '../kernels/matmul/matmul.ts';
import { attention } from '../kernels/attention/attention.ts';
import { castRowsInto } from '../kernels/cast/cast.ts';
import { rmsnorm } from '../kernels/rmsnorm/rmsnorm.ts';
import { rope } from '../kernels/rope/rope.ts';
import { swiglu } from '../kernels/swiglu/swiglu.ts';
import { embedding } from '../kernels/embedding/embedding.ts';
import { softmaxCrossEntropy, softmaxCrossEntropyRows } from '../kernels/softmax-xent/softmax-xent.ts';
import { lmHeadCrossEntropy } from '../kernels/softmax-xent/lm-head-xent.ts';
import { type ModelConfig, embeddingRows, headDim, kvHeads } from './config.ts';
import { parameterTable } from './names.ts';
import { ParamStore, type ParamDType } from './params.ts';
import type { Tokenizer } from './tokenizer.ts';
import type { LoraAdapters } from './lora.ts';

export interface ForwardInput {
  /** Token ids, row-major [B, T]. */
  ids: Int32Array;
  B: number;
  T: number;
  /** Optional key padding mask [B, T]: 1 = real token, 0 = padding (never attended to). */
  keyMask?: Float32Array;
}

/** Storage of a KV cache: f32, or 16-bit (fresh rows rounded to nearest even as they are written). */
export type CacheDType = 'f32' | 'bf16' | 'f16';

export interface KVCache {
  B: number;
  L: number;
  dtype: CacheDType;
  /** Bytes of every layer's keys and values together. */
  bytes: number;
  /** Per layer, post-RoPE keys and values (B, L, Hkv, D). */
  k: Tensor[];
  v: Tensor[];
  dispose(): void;
}

/** Copy src (B, Tq, ...) into dst (B, L, ...) at sequence offset `start` (encoded, no autograd). */
function writeRows(dst: Tensor, src: Tensor, start: number): void {
  const [B, L] = dst.shape;
  const Tq = src.shape[1];
  const row = (dst.size / (B * L)) * 4;
  const enc = dst.rt.commandEncoder();
  for (let b = 0; b < B; b++) {
    enc.copyBufferToBuffer(
      src.buffer,
      src.byteOffset + b * Tq * row,
      dst.buffer,
      dst.byteOffset + (b * L + start) * row,
      Tq * row,
    );
  }
}

export class LLaDAModel {
  readonly params: ParamStore;
  /** The checkpoint's tokenizer, when it has one. */
  tokenizer: Tokenizer | null = null;
  /** LoRA adapters applied to block linears (model/lora.ts), or none. */
  lora: LoraAdapters | null = null;
  /**
   * Activation recomputation (NeMo's distributed.activation_checkpointing): a training forward
   * keeps only each block's input and the backward reruns the block (engine/autograd.ts
   * checkpoint), so activation memory is one block's worth; gradients are bit for bit the same.
   */
  recompute = false;

  /**
   * `dtype`: storage of the weight matrices (embedding, projections, LM head); bf16/f16 ones are
   * frozen (inference). Norm weights are always f32: a few floats per layer, read by rmsnorm.
   */
  constructor(
    readonly rt: Runtime,
    readonly config: ModelConfig,
    readonly dtype: ParamDType = 'f32',
  ) {
    this.params = new ParamStore(
      rt,
      parameterTable(config).map((p) => ({ ...p, dtype: p.shape.length >= 2 ? dtype : 'f32' })),
    );
  }

  get vocabRows(): number {
    return embeddingRows(this.config);
  }

  private p(name: string): Tensor {
    return this.params.get(`model.transformer.${name}`);
  }

  /** Check host ids before they reach the GPU (the kernel would clamp them silently). */
  checkIds(ids: ArrayLike<number>, where = 'input'): void {
    const V = this.vocabRows;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= V) {
        throw new UserError(`${where}: token id ${id} at position ${i} is outside the model's vocabulary [0, ${V})`);
      }
    }
  }

  /** Logits [B*T, embedding_size] for a batch (records autograd when parameters require grad). */
  forward(inp: ForwardInput): Tensor {
    return this.logitsOf(this.run(inp.ids, inp.B, inp.T, 0, inp.T, inp.keyMask, null));
  }

  /**
   * Fast-dLLM's block-level approximate KV cache (Wu et al. 2025, sec. 3.1). `fill`: a full forward
   * of [B, L] that also stores every layer's post-RoPE keys and values. Otherwise: only the tokens
   * at positions [start, start + Tq) run through the model; their fresh keys/values overwrite the
   * cache there, and their queries attend over the whole cached sequence (prefix cache: Tq covers
   * the block and the suffix; dual cache: the block only). Logits come for the Tq tokens.
   */
  forwardCached(ids: Int32Array, B: number, Tq: number, start: number, cache: KVCache, keyMask?: Float32Array): Tensor {
    return this.logitsOf(this.run(ids, B, Tq, start, cache.L, keyMask, cache));
  }

  /** forwardCached's final hidden states (B*Tq, C) and the head (see hidden()). */
  hiddenCached(
    ids: Int32Array,
    B: number,
    Tq: number,
    start: number,
    cache: KVCache,
    keyMask?: Float32Array,
  ): { x: Tensor; head: Tensor } {
    const x = this.run(ids, B, Tq, start, cache.L, keyMask, cache);
    return { x: this.config.scale_logits ? scale(x, 1 / Math.sqrt(this.config.d_model)) : x, head: this.head };
  }

  /**
   * An empty cache for [B, L] sequences (filled by the first forwardCached with start 0, Tq = L).
   * A bf16/f16 cache halves the memory; attention then reads keys/values rounded to 16 bits
   * (sampling only: no backward through a 16-bit cache).
   */
  newCache(B: number, L: number, dtype: CacheDType = 'f32'): KVCache {
    const Hkv = kvHeads(this.config),
      D = headDim(this.config);
    const mk = (n: string) =>
      Array.from({ length: this.config.n_layers }, (_, l) =>
        empty(this.rt, [B, L, Hkv, D], dtype, `${n}_cache.${l}`).keep(),
      );
    const k = mk('k');
    return {
      B,
      L,
      dtype,
      bytes: 2 * this.config.n_layers * k[0].byteLength,
      k,
      v: mk('v'),
      dispose() {
        [...this.k, ...this.v].forEach((t) => t.dispose());
      },
    };
  }

  private run(
    idsHost: Int32Array,
    B: number,
    T: number,
    start: number,
    L: number,
    keyMaskHost: Float32Array | undefined,
    cache: KVCache | null,
  ): Tensor {
    // (B*T, C): the final hidden states after ln_f; logitsOf() or a fused head consumes them.
    const cfg = this.config;
    if (idsHost.length !== B * T) throw new UserError(`forward: ${idsHost.length} ids for a [${B}, ${T}] batch`);
    if (L > cfg.max_sequence_length) {
      throw new UserError(`sequence length ${L} exceeds the model's max_sequence_length ${cfg.max_sequence_length}`);
    }
    if (keyMaskHost && keyMaskHost.length !== B * L)
      throw new UserError(`forward: key mask of ${keyMaskHost.length} for a [${B}, ${L}] batch`);
    const rt = this.rt;
    const C = cfg.d_model,
      H = cfg.n_heads,
      Hkv = kvHeads(cfg),
      D = headDim(cfg);
    const ids = tensor(rt, idsHost, [B, T], 'i32', 'ids');
    const keyMask = keyMaskHost ? tensor(rt, keyMaskHost, [B, L], 'f32', 'key_mask') : undefined;
    const ropeOpts = { theta: cfg.rope_theta, positions: start };
    // Block l on its input x (B, T, C); the same kernels and dropout draws when a checkpoint reruns it.
    const block = (l: number, x: Tensor): Tensor => {
      const blk = (n: string) => this.p(`blocks.${l}.${n}.weight`);
      // A block linear, plus its LoRA update when adapted.
      const lin = (inp: Tensor, n: string) => {
        const y = linear(inp, blk(n));
        return this.lora ? this.lora.apply(`model.transformer.blocks.${l}.${n}`, inp, y) : y;
      };
      const h = rmsnorm(x, blk('attn_norm'), cfg.rms_norm_eps);
      const q = rope(reshape(lin(h, 'q_proj'), [B, T, H, D]), ropeOpts);
      let k = rope(reshape(lin(h, 'k_proj'), [B, T, Hkv, D]), ropeOpts);
      let v = reshape(lin(h, 'v_proj'), [B, T, Hkv, D]);
      if (cache) {
        const write = cache.dtype === 'f32' ? writeRows : castRowsInto;
        write(cache.k[l], k, start);
        write(cache.v[l], v, start);
        k = cache.k[l];
        v = cache.v[l];
      }
      const a = reshape(attention(q, k, v, { keyMask }), [B, T, C]);
      x = add(x, lin(a, 'attn_out'));
      const h2 = rmsnorm(x, blk('ff_norm'), cfg.rms_norm_eps);
      return add(x, lin(swiglu(lin(h2, 'ff_proj'), lin(h2, 'up_proj')), 'ff_out'));
    };
    let x = embedding(ids, this.p('wte.weight'), { hostIds: idsHost }); // (B, T, C)
    for (let l = 0; l < cfg.n_layers; l++) {
      x = this.recompute && !cache ? checkpoint(`blocks.${l}`, x, (xi) => block(l, xi)) : block(l, x);
    }
    return reshape(rmsnorm(x, this.p('ln_f.weight'), cfg.rms_norm_eps), [B * T, C]);
  }

  /** The LM head weight (E, C): ff_out, or wte when weight_tying. */
  get head(): Tensor {
    return this.config.weight_tying ? this.p('wte.weight') : this.p('ff_out.weight');
  }

  /** Logits (N, E) of final hidden states (N, C), as LLaDA's LM head computes them. */
  private logitsOf(x: Tensor): Tensor {
    const logits = linear(x, this.head); // (N, V)
    return this.config.scale_logits ? scale(logits, 1 / Math.sqrt(this.config.d_model)) : logits;
  }

  /**
   * The final hidden states (B*T, C) the LM head reads, with the head itself: for ops that fuse
   * the head with what consumes the logits, so that (B*T, V) logits never exist whole (LLaDA's
   * vocabulary is 126464). `x` already carries scale_logits.
   */
  hidden(inp: ForwardInput): { x: Tensor; head: Tensor } {
    const x = this.run(inp.ids, inp.B, inp.T, 0, inp.T, inp.keyMask, null);
    return { x: this.config.scale_logits ? scale(x, 1 / Math.sqrt(this.config.d_model)) : x, head: this.head };
  }

  /** Whether (N, E) logits and the head each fit one binding (else the head is fused, in chunks). */
  logitsFit(n: number): boolean {
    const max = this.rt.limits.maxStorageBufferBindingSize;
    return this.vocabRows * this.config.d_model * 4 <= max && n * this.vocabRows * 4 <= max;
  }

  /**
   * MDLM loss sum_i w_i CE_i of a batch ((1), or per row (B*T) with perRow): the LM head fused with
   * the cross-entropy over vocabulary chunks when the logits or the head exceed one binding.
   */
  loss(inp: ForwardInput, targets: Tensor, weights: Tensor, opts: { perRow?: boolean } = {}): Tensor {
    if (this.logitsFit(inp.B * inp.T)) {
      const logits = this.forward(inp);
      return opts.perRow
        ? softmaxCrossEntropyRows(logits, targets, weights)
        : softmaxCrossEntropy(logits, targets, weights);
    }
    const { x, head } = this.hidden(inp);
    return lmHeadCrossEntropy(x, head, targets, weights, { perRow: opts.perRow });
  }

  /** Public API: logits for token id rows as a Float32Array [B, T, vocab_size] (row-major). */
  async logits(ids: number[][], opts: { attentionMask?: number[][] } = {}): Promise<Float32Array> {
    const B = ids.length;
    if (B === 0) throw new UserError('logits: empty batch');
    const T = ids[0].length;
    if (ids.some((r) => r.length !== T))
      throw new UserError('logits: rows must have equal length (pad them and pass attentionMask)');
    const flat = Int32Array.from(ids.flat());
    this.checkIds(flat);
    const mask = opts.attentionMask ? Float32Array.from(opts.attentionMask.flat()) : undefined;
    if (mask && mask.length !== B * T) throw new UserError('logits: attentionMask must have the shape of ids');
    const full = await noGradAsync(() =>
      this.rt.scope(async () => (await this.forward({ ids: flat, B, T, keyMask: mask }).read()) as Float32Array),
    );
    const V = this.config.vocab_size,
      E = this.vocabRows;
    if (V === E) return full;
    const out = new Float32Array(B * T * V);
    for (let i = 0; i < B * T; i++) out.set(full.subarray(i * E, i * E + V), i * V);
    return out;
  }

  dispose(): void {
    this.lora?.dispose();
    this.lora = null;
    this.params.dispose();
  }
}
