// The device over any WebGPU implementation: the `Device` class (uncaptured errors and device loss
// turned into DeviceErrors, shutdown) and `openDeviceOn`, which asks a `GPU` object for an adapter
// and a device with the adapter's real limits and the features the kernels use. The `GPU` object is
// the platform's: Dawn's `create()` in Node (engine/device.ts, which also reads the environment) or
// `navigator.gpu` in a browser tab. Nothing here touches Node, the environment or a file.
import { DeviceError } from './errors.ts';
import { Runtime } from './runtime.ts';
import { effectiveLimits, type LimitKey, type Limits } from './limits.ts';
import type { AdapterDescription, KernelChoices } from './adapter.ts';

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

export interface DeviceOnOptions {
  powerPreference?: GPUPowerPreference;
  /** Kernel-variant overrides, already parsed (engine/adapter.ts kernelChoices). */
  kernels?: KernelChoices;
  /** Limits to lower, and what asked for it (for error messages). */
  lower?: { what: string; values: Partial<Record<LimitKey, number>> };
  /** The backend to report when the adapter does not name one. */
  backend?: string;
  /** What to tell the user when the implementation offers no adapter. */
  noAdapter?: string;
  /** Called with the adapter before the device is requested (Dawn-node must keep it referenced). */
  keep?(adapter: GPUAdapter): void;
}

/** A Device on the adapter `gpu` offers (Dawn's GPU object in Node, navigator.gpu in a browser). */
export async function openDeviceOn(gpu: GPU, o: DeviceOnOptions = {}): Promise<Device> {
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: o.powerPreference ?? 'high-performance' });
  } catch (e) {
    throw new DeviceError(`requestAdapter failed: ${(e as Error).message}`);
  }
  if (!adapter) throw new DeviceError(o.noAdapter ?? 'no WebGPU adapter found');
  o.keep?.(adapter);
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
    backend: o.backend ?? info.backend ?? 'default',
    subgroupMinSize: info.subgroupMinSize ?? 0,
    subgroupMaxSize: info.subgroupMaxSize ?? 0,
    isFallbackAdapter: info.isFallbackAdapter ?? false,
  };
  let limits: Limits;
  try {
    limits = effectiveLimits(device.limits, o.lower?.values ?? {}, o.lower?.what);
  } catch (e) {
    device.destroy();
    throw e;
  }
  return new Device(device, desc, o.kernels ?? {}, limits);
}
