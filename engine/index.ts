// The engine's public surface: device, tensors, autograd, errors. Knows nothing about ops.
export { openDevice, Device, type DeviceOptions } from './device.ts';
export {
  adapterFacts,
  parseKernelChoices,
  type AdapterDescription,
  type AdapterFacts,
  type KernelChoices,
} from './adapter.ts';
export { Runtime, grid1d, type Kernel, type RunArgs, type Binding } from './runtime.ts';
export { Tensor, Storage, tensor, zeros, empty, fill0, numel, shapeStr, type DType } from './tensor.ts';
export {
  backward,
  checkpoint,
  reshape,
  noGrad,
  noGradAsync,
  record,
  requireGrad,
  zeroGrad,
  isGradEnabled,
  type GradNode,
} from './autograd.ts';
export { UserError, EngineError, DeviceError, EXIT } from './errors.ts';
export { sizeClass, type PoolStats } from './pool.ts';
export { waitGpu } from './wait.ts';
