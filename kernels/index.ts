// Every op, as free functions over engine tensors. Importing this module installs the gradient
// accumulation hooks the engine's autograd needs (the engine itself has no ops).
export { binary, add, sub, mul, div, unary, scale, exp, axpyInPlace, installHooks } from './elementwise/elementwise.ts';
export { reduce, sum, mean, max, sumToShape } from './reduce/reduce.ts';
