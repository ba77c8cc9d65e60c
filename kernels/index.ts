// Every op, as free functions over engine tensors. Importing this module gives `installHooks`, which
// wires the gradient accumulation the engine's autograd needs (the engine itself has no ops).
export * from './elementwise/elementwise.ts';
export * from './reduce/reduce.ts';
export * from './matmul/matmul.ts';
export * from './attention/attention.ts';
export * from './softmax/softmax.ts';
export * from './softmax-xent/softmax-xent.ts';
export * from './adamw/adamw.ts';
export * from './rng/rng.ts';
export * from './rmsnorm/rmsnorm.ts';
export * from './rope/rope.ts';
export * from './swiglu/swiglu.ts';
export * from './embedding/embedding.ts';
export * from './sample-pick/sample-pick.ts';
export { kernelPlan, variantOf, KERNEL_OPS, type KernelOp, type KernelPlan, type OpChoice } from './variants.ts';
