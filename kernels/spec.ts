// The contract every op's `<op>.spec.ts` exports for the generic property suite (kernels/ops.test.ts)
// and `dllm-wgpu fuzz`: a fast-check arbitrary of cases, the GPU forward (through the public op, so
// its autograd is exercised too), the CPU reference forward and backward, and a tolerance. Specs are
// test code: the library never imports them (fuzz loads them on demand).
import type * as fc from 'fast-check';
import type { Runtime } from '../engine/runtime.ts';
import type { Tensor, DType } from '../engine/tensor.ts';

export interface CaseInput {
  name: string;
  shape: number[];
  data: Float32Array | Int32Array | Uint32Array | Uint16Array; // bf16/f16: bit patterns
  dtype?: DType; // default f32
  /** Differentiable input: the suite checks its gradient (default: true for f32). */
  grad?: boolean;
}

export interface OpCase {
  inputs: CaseInput[];
  /** Op options (transposes, op kind, eps, ...), passed to gpu/ref as they are. */
  params?: unknown;
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

export interface OpSpec<C extends OpCase = OpCase> {
  name: string;
  /** Kernels whose folders this spec covers (for the meta-test). */
  kernel: string;
  /**
   * Kernel-variant overrides the spec runs under, in the syntax of DLLM_WGPU_KERNELS (e.g.
   * 'matmul:tiled'): the suite opens a device with them, and skips the spec visibly where the
   * adapter cannot run the variant. Omitted: the adapter's defaults.
   */
  kernels?: string;
  arb: fc.Arbitrary<C>;
  /** GPU forward through the public op. Returns one output tensor. */
  gpu(rt: Runtime, inputs: Tensor[], c: C): Tensor;
  /** CPU reference forward (float64 accumulation). */
  ref(c: C): ArrayLike<number>;
  /** CPU reference gradients w.r.t. each input given d(out); null for inputs without gradient. */
  refBackward?(c: C, gradOut: Float64Array): (ArrayLike<number> | null)[];
  tol(c: C): Tolerance;
  /** Tolerance for gradients (default: tol). */
  gradTol?(c: C): Tolerance;
  /** Compare bit-exactly (integer outputs, RNG). */
  exact?: boolean;
  /** Skip the float64 finite-difference check of refBackward (e.g. non-smooth ops). */
  noFiniteDiff?: boolean;
}
