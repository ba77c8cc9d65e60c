// `dllm-wgpu info`: the adapter, backend, limits and features Dawn gives us, the kernel variant each
// op will run on it (and which were forced), and a tiny smoke dispatch read back (proves the device
// computes, not only that it exists).
import type { Device } from '../engine/device.ts';
import type { AdapterFacts } from '../engine/adapter.ts';
import { tensor } from '../engine/tensor.ts';
import { add } from '../kernels/elementwise/elementwise.ts';
import { kernelPlan, type KernelPlan } from '../kernels/variants.ts';
import { EngineError } from '../engine/errors.ts';

const LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'minStorageBufferOffsetAlignment',
] as const;

export interface InfoReport {
  adapter: Omit<AdapterFacts, 'features' | 'limits'>;
  features: string[];
  limits: Record<string, number>;
  /** The adapter's own value of each limit lowered by DLLM_WGPU_LIMITS. */
  adapterLimits: Record<string, number>;
  kernels: KernelPlan;
  smoke: 'ok';
}

export async function infoReport(dev: Device): Promise<InfoReport> {
  const a = tensor(dev, [1, 2, 3, 4], [4]);
  const b = tensor(dev, [10, 20, 30, 40], [4]);
  const c = add(a, b);
  const got = Array.from(await c.read());
  [a, b, c].forEach((t) => t.dispose());
  if (got.join() !== '11,22,33,44') throw new EngineError(`smoke dispatch returned ${got} instead of 11,22,33,44`);
  const { features, limits: effective, ...adapter } = dev.facts;
  const limits: Record<string, number> = {};
  const lowered: Record<string, number> = {};
  for (const k of LIMITS) {
    limits[k] = effective[k];
    if (effective[k] !== dev.gpu.limits[k]) lowered[k] = dev.gpu.limits[k];
  }
  return {
    adapter,
    features: [...features].sort(),
    limits,
    adapterLimits: lowered,
    kernels: kernelPlan(dev),
    smoke: 'ok',
  };
}

export function printInfo(r: InfoReport): void {
  const a = r.adapter;
  const kernels = Object.entries(r.kernels).map(([op, k]) => {
    const others = k.variants
      .filter((v) => v.name !== k.variant)
      .map((v) => (v.unavailable ? `${v.name} (unavailable)` : v.name));
    return `${op.padEnd(13)}${k.variant.padEnd(11)}${k.forced ? 'forced' : 'default'}${others.length ? `; also ${others.join(', ')}` : ''}`;
  });
  const out = [
    `adapter      ${a.description || a.device} (${a.vendor}, ${a.architecture})`,
    `backend      ${a.backend}`,
    `software     ${a.software ? 'yes (a CPU implementation)' : 'no'}`,
    `subgroups    ${a.subgroups ? `${a.subgroupMinSize}-${a.subgroupMaxSize} lanes` : 'no'}`,
    `features     ${r.features.join(', ')}`,
    ...Object.entries(r.limits).map(
      ([k, v]) => `${k.padEnd(34)} ${v}${k in r.adapterLimits ? ` (lowered; adapter ${r.adapterLimits[k]})` : ''}`,
    ),
    `kernels      (force with --kernels or DLLM_WGPU_KERNELS, e.g. matmul:tiled,attention:portable)`,
    ...kernels.map((k) => `  ${k}`),
    `smoke test   ${r.smoke} (add on the GPU, read back)`,
  ];
  process.stdout.write(out.join('\n') + '\n');
}
