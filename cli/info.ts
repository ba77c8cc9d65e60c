// `dllm-wgpu info`: the adapter, backend, limits and features Dawn gives us, and the pool/pipeline
// state after a tiny smoke dispatch (proves the device computes, not only that it exists).
import type { Device } from '../engine/device.ts';
import { tensor } from '../engine/tensor.ts';
import { add } from '../kernels/elementwise/elementwise.ts';
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

export async function infoReport(dev: Device): Promise<Record<string, unknown>> {
  const a = tensor(dev, [1, 2, 3, 4], [4]);
  const b = tensor(dev, [10, 20, 30, 40], [4]);
  const c = add(a, b);
  const got = Array.from(await c.read());
  [a, b, c].forEach((t) => t.dispose());
  if (got.join() !== '11,22,33,44') throw new EngineError(`smoke dispatch returned ${got} instead of 11,22,33,44`);
  const limits: Record<string, number> = {};
  for (const k of LIMITS) limits[k] = dev.gpu.limits[k];
  return {
    adapter: dev.adapterInfo,
    features: [...dev.gpu.features].sort(),
    limits,
    smoke: 'ok',
  };
}

export function printInfo(r: Record<string, any>): void {
  const a = r.adapter;
  const out = [
    `adapter      ${a.description || a.device} (${a.vendor}, ${a.architecture})`,
    `backend      ${a.backend}`,
    `subgroups    ${a.subgroupMinSize}-${a.subgroupMaxSize} lanes`,
    `features     ${r.features.join(', ')}`,
    ...Object.entries(r.limits).map(([k, v]) => `${k.padEnd(34)} ${v}`),
    `smoke test   ${r.smoke} (add on the GPU, read back)`,
  ];
  process.stdout.write(out.join('\n') + '\n');
}
