// What the engine knows about the adapter under a device, gathered once: who made it, whether it is
// a CPU implementation, its subgroup sizes, the features the device was given and its effective
// limits. Kernels choose their variants from these facts (kernels/variants.ts) and never look at
// the adapter themselves. Also the parser for kernel-variant overrides (`DLLM_WGPU_KERNELS`,
// `openDevice({ kernels })`); which ops and variants exist is the kernels' business, not this file's.
import { UserError } from './errors.ts';
import type { Limits } from './limits.ts';

/** The adapter as Dawn describes it (GPUAdapterInfo plus the backend we asked for). */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  subgroupMinSize: number;
  subgroupMaxSize: number;
  /** GPUAdapterInfo.isFallbackAdapter: the WebGPU implementation's own word that this is a CPU one. */
  isFallbackAdapter: boolean;
}

export interface AdapterFacts extends AdapterDescription {
  /**
   * A CPU implementation (lavapipe/llvmpipe, SwiftShader, WARP): a workgroup runs as one thread,
   * workgroup barriers are context switches and loads dominate, so kernels prefer other designs.
   */
  software: boolean;
  /** The device has the 'subgroups' feature. */
  subgroups: boolean;
  /** The one size every subgroup has (min = max), or 0 when subgroups are missing or vary. */
  subgroupSize: number;
  /** Features the device was created with. */
  features: ReadonlySet<string>;
  /** The limits the engine works under (the runtime's effective limits, which may be lower than the adapter's). */
  limits: Limits;
}

/** An adapter nothing is known about (a runtime made directly over a GPUDevice). */
export const UNKNOWN_ADAPTER: AdapterDescription = {
  vendor: '',
  architecture: '',
  device: '',
  description: '',
  backend: 'default',
  subgroupMinSize: 0,
  subgroupMaxSize: 0,
  isFallbackAdapter: false,
};

// Dawn reports lavapipe and SwiftShader as fallback adapters with architecture 'software'; names
// cover implementations or versions that say neither.
const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader|\bwarp\b|microsoft basic render/i;

export function adapterFacts(a: AdapterDescription, features: ReadonlySet<string>, limits: Limits): AdapterFacts {
  const subgroups = features.has('subgroups');
  const fixed = subgroups && a.subgroupMinSize > 0 && a.subgroupMinSize === a.subgroupMaxSize;
  return {
    ...a,
    software:
      a.isFallbackAdapter || a.architecture === 'software' || SOFTWARE_NAMES.test(`${a.description} ${a.device}`),
    subgroups,
    subgroupSize: fixed ? a.subgroupMinSize : 0,
    features,
    limits,
  };
}

/** Kernel-variant overrides: op name -> variant name. */
export type KernelChoices = Readonly<Record<string, string>>;

/**
 * Parse `op:variant[,op:variant...]` (whitespace ignored, empty = none). Only the syntax is checked
 * here; kernels/variants.ts checks the names against the ops that exist. `source` names where the
 * text came from, for the error message.
 */
export function parseKernelChoices(text: string, source: string): KernelChoices {
  const out: Record<string, string> = {};
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (!item) continue;
    const m = /^([a-z0-9-]+)\s*:\s*([a-z0-9-]+)$/i.exec(item);
    if (!m) {
      throw new UserError(
        `${source}: "${item}" is not op:variant; write e.g. matmul:tiled,attention:portable (dllm-wgpu info lists them)`,
      );
    }
    if (m[1] in out) throw new UserError(`${source}: ${m[1]} is given twice ("${text}")`);
    out[m[1]] = m[2];
  }
  return out;
}

/**
 * The overrides a device gets: DLLM_WGPU_KERNELS, then the openDevice option on top (per op, so
 * the option wins where both name the same op).
 */
export function kernelChoices(option: string | KernelChoices | undefined, env: string | undefined): KernelChoices {
  const fromEnv = env ? parseKernelChoices(env, 'DLLM_WGPU_KERNELS') : {};
  const fromOption =
    typeof option === 'string' ? parseKernelChoices(option, 'the kernels option (--kernels)') : { ...(option ?? {}) };
  return { ...fromEnv, ...fromOption };
}
