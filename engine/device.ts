// Device acquisition in Node, through Dawn (npm `webgpu`): the Node side of the platform seam (a
// browser tab opens its device on navigator.gpu through engine/gpu-device.ts, as this file does on
// Dawn's GPU object). Picks the backend/adapter from options or the DLLM_WGPU_BACKEND /
// DLLM_WGPU_ADAPTER environment variables and passes Dawn its toggles. It does not know about ops:
// the kernel-variant overrides (option `kernels`, env DLLM_WGPU_KERNELS) are parsed here and handed
// to the runtime, and kernels/variants.ts checks them against the ops that exist.
// The Dawn `create()` result stays private to this module: engine users only see `Device`.
import { freemem } from 'node:os';
import { create, globals } from 'webgpu';
import { DeviceError } from './errors.ts';
import { LIMITS_ENV, parseLimits, type LimitKey } from './limits.ts';
import { kernelChoices, type KernelChoices } from './adapter.ts';
import { Device, openDeviceOn } from './gpu-device.ts';

export { Device };

export interface DeviceOptions {
  /** Dawn backend: 'vulkan' | 'metal' | 'd3d12' | 'd3d11' | 'opengl' | 'null'. Env DLLM_WGPU_BACKEND. */
  backend?: string;
  /** Adapter name as Dawn lists it (pass a wrong one to see the list). Env DLLM_WGPU_ADAPTER. */
  adapter?: string;
  powerPreference?: GPUPowerPreference;
  /** Extra Dawn toggles (enable-dawn-features=...). */
  dawnFlags?: string[];
  /**
   * Force kernel variants instead of the adapter's defaults: 'matmul:tiled,attention:portable' or
   * { matmul: 'tiled' }. Applied over env DLLM_WGPU_KERNELS (this wins per op). `dllm-wgpu info`
   * lists the ops and variants.
   */
  kernels?: string | KernelChoices;
  /**
   * Lower some of the adapter's limits for everything the engine plans (tests force split paths
   * with it). Env DLLM_WGPU_LIMITS="maxStorageBufferBindingSize:65536,maxBufferSize:1048576".
   */
  limits?: Partial<Record<LimitKey, number>>;
}

let installedGlobals = false;
// Dawn objects that must outlive every device made from them: if the GPU instance or adapter JS
// object is garbage-collected while a device is alive, Dawn-node crashes (seen in gdb).
const instances: unknown[] = [];

export async function openDevice(options: DeviceOptions = {}): Promise<Device> {
  process.env.XDG_RUNTIME_DIR ??= '/tmp'; // lavapipe warns on every start without it
  if (!installedGlobals) {
    Object.assign(globalThis, globals);
    installedGlobals = true;
  }
  // Timestamp queries at full resolution: Dawn quantizes them by default (a browser privacy
  // measure that rounds kernel times to ~65 us on NVIDIA), which would blur `bench` and profiles.
  const flags = ['disable-dawn-features=timestamp_quantization', ...(options.dawnFlags ?? [])];
  const backend = options.backend ?? process.env.DLLM_WGPU_BACKEND;
  const adapterName = options.adapter ?? process.env.DLLM_WGPU_ADAPTER;
  // Bad override syntax fails here, before any GPU work.
  const kernels = kernelChoices(options.kernels, process.env.DLLM_WGPU_KERNELS);
  const lower = options.limits
    ? { what: 'openDevice limits', values: options.limits }
    : { what: LIMITS_ENV, values: parseLimits(process.env[LIMITS_ENV] ?? '') };
  if (backend) flags.push(`backend=${backend}`);
  if (adapterName) flags.push(`adapter=${adapterName}`);
  let gpu: GPU;
  try {
    gpu = create(flags);
    instances.push(gpu);
  } catch (e) {
    throw new DeviceError(
      `Dawn could not create a WebGPU instance (${flags.join(' ') || 'no flags'}): ${(e as Error).message}`,
    );
  }
  const dev = await openDeviceOn(gpu, {
    powerPreference: options.powerPreference,
    kernels,
    lower,
    backend,
    keep: (adapter) => instances.push(adapter),
    noAdapter:
      'no WebGPU adapter found. Run `bash scripts/setup.sh` (installs Mesa lavapipe on Debian as root), ' +
      'or install a Vulkan/Metal/D3D12 driver; DLLM_WGPU_BACKEND / DLLM_WGPU_ADAPTER pick one.',
  });
  dev.hostFreeBytes = freemem;
  return dev;
}
