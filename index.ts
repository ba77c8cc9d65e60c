// The public library API of dllm-wgpu: device, model load/save/create, sampling, training.
// The reference loads the WebGPU types (GPUBuffer, ...) the shipped .d.ts use, in the version the
// `webgpu` package (Dawn) declares.
/// <reference types="webgpu" preserve="true" />
import { openDevice as openEngineDevice, type DeviceOptions, type Device } from './engine/device.ts';
import { installHooks } from './kernels/elementwise/elementwise.ts';

/** Open a WebGPU device with the ops' autograd hooks installed. Destroy it with `await device.destroy()`. */
export async function openDevice(options: DeviceOptions = {}): Promise<Device> {
  const device = await openEngineDevice(options);
  try {
    installHooks(device); // also checks the kernel-variant overrides
  } catch (e) {
    await device.destroy();
    throw e;
  }
  return device;
}
export type { DeviceOptions, Device };
export { UserError, DeviceError, EngineError } from './engine/errors.ts';
export { tensor, zeros, Tensor } from './engine/tensor.ts';
export { backward, noGrad } from './engine/autograd.ts';
export { LLaDAModel } from './model/llada.ts';
export { loadModel, saveModel, createModel } from './model/io.ts';
export { createConfig, parseConfig, type ModelConfig } from './model/config.ts';
export { loadConfig } from './model/config-file.ts';
export { buildCharTokenizer, type Tokenizer } from './model/tokenizer.ts';
export { loadTokenizer, saveTokenizer } from './model/tokenizer-file.ts';
export { generate, type GenerateOptions, type GenerateResult } from './sample/generate.ts';
export { infill } from './sample/infill.ts';
export { modelDenoiser } from './sample/denoiser.ts';
export { loadTrainConfig, DEFAULT_CONFIG_TOML, type TrainConfig } from './train/config.ts';
export { runTraining } from './train/run.ts';
export * as ops from './kernels/index.ts';
