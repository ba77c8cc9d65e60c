// The explicit list of every op spec the property suite and `dllm-wgpu fuzz` run. A meta-test
// (kernels/ops.test.ts) fails when a kernels/<op>/ folder lacks its .wgsl, .ref.ts or a spec here.
import type { OpSpec } from './spec.ts';
import { binarySpecs, unarySpecs } from './elementwise/elementwise.ts';
import { reduceSpecs } from './reduce/reduce.ts';

export const ALL_SPECS: OpSpec<any>[] = [...binarySpecs, ...unarySpecs, ...reduceSpecs];
