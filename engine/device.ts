// Device acquisition through Dawn (npm `webgpu`). Picks the backend/adapter from options or the
// DLLM_WGPU_BACKEND / DLLM_WGPU_ADAPTER environment variables, requests the adapter's real limits
// (storage binding size, buffer size, workgroup storage and invocations) and the features we use,
// and turns uncaptured errors and device loss into DeviceErrors. It does not know about ops: the
// kernel-variant overrides (option `kernels`, env DLLM_WGPU_KERNELS) are parsed here and handed to
// the runtime, and kernels/variants.ts checks them against the ops that exist.
// The Dawn `create()` result stays private to this module: engine users only see `Device`.
import { create, globals } from 'webgpu';
import { DeviceError } from './errors.ts';
import { Runtime } from './runtime.ts';
import { LIMITS_ENV, effectiveLimits, parseLimits, type LimitKey, type Limits } from './limits.ts';
import { kernelChoices, type AdapterDescription, type KernelChoices } from './adapter.ts';

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
const WANTED_FEATURES: GPUFeatureName[] = ['subgroups', 'timestamp-query', 'shader-f16'];

export class Device extends Runtime {
  private lostReason: string | null = null;
  private destroyed = false;

  constructor(gpu: GPUDevice, adapter: AdapterDescription, kernels: KernelChoices, limits?: Limits) {
    super(gpu, adapter, kernels, limits);
    gpu.addEventListener('uncapturederror', (ev) => {
      // Wrong numbers are worse than a crash: remember the first error and fail the next sync.
      const err = ev.error;
      this.setFatal(new DeviceError(`uncaptured GPU error: ${err.message}`, 'validation'));
    });
    void gpu.lost.then((info) => {
      if (this.destroyed) return;
      this.lostReason = `${info.reason}: ${info.message}`;
      this.setFatal(new DeviceError(`GPU device lost (${this.lostReason})`, 'lost'));
    });
  }

  /** Finish outstanding work and release the device so the process can exit promptly. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    try {
      await this.sync();
    } catch {
      // already reported; still destroy
    }
    this.destroyed = true;
    this.releaseAll();
    this.gpu.destroy();
  }
}

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
  let adapter: GPUAdapter | null;
  try {
    const gpu = create(flags);
    instances.push(gpu);
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
    instances.push(adapter);
  } catch (e) {
    throw new DeviceError(
      `Dawn could not create a WebGPU instance (${flags.join(' ') || 'no flags'}): ${(e as Error).message}`,
    );
  }
  if (!adapter) {
    throw new DeviceError(
      'no WebGPU adapter found. Run `bash scripts/setup.sh` (installs Mesa lavapipe on Debian as root), ' +
        'or install a Vulkan/Metal/D3D12 driver; DLLM_WGPU_BACKEND / DLLM_WGPU_ADAPTER pick one.',
    );
  }
  const info = adapter.info as GPUAdapterInfo & {
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
    isFallbackAdapter?: boolean;
    backend?: string;
  };
  const features = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const l = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
  };
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits, label: 'dllm-wgpu' });
  } catch (e) {
    throw new DeviceError(`requestDevice failed: ${(e as Error).message}`);
  }
  const desc: AdapterDescription = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    backend: backend ?? info.backend ?? 'default',
    subgroupMinSize: info.subgroupMinSize ?? 0,
    subgroupMaxSize: info.subgroupMaxSize ?? 0,
    isFallbackAdapter: info.isFallbackAdapter ?? false,
  };
  let limits: Limits;
  try {
    limits = effectiveLimits(device.limits, lower.values, lower.what);
  } catch (e) {
    device.destroy();
    throw e;
  }
  return new Device(device, desc, kernels, limits);
}
