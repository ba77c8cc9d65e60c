// The explicit list of every op spec the property suite and `dllm-wgpu fuzz` run. A meta-test
// (kernels/ops.test.ts) fails when a kernels/<op>/ folder lacks its .wgsl, .ref.ts or a spec here.
import type { OpSpec } from './spec.ts';
import { binarySpecs, unarySpecs } from './elementwise/elementwise.ts';
import { reduceSpecs } from './reduce/reduce.ts';
import { matmulSpecs } from './matmul/matmul.ts';
import { attentionSpecs } from './attention/attention.ts';
import { softmaxSpecs } from './softmax/softmax.ts';
import { softmaxXentSpecs } from './softmax-xent/softmax-xent.ts';
import { adamwSpecs } from './adamw/adamw.ts';
import { rngSpecs } from './rng/rng.ts';
import { rmsnormSpecs } from './rmsnorm/rmsnorm.ts';
import { ropeSpecs } from './rope/rope.ts';
import { swigluSpecs } from './swiglu/swiglu.ts';
import { embeddingSpecs } from './embedding/embedding.ts';
import { samplePickSpecs } from './sample-pick/sample-pick.ts';
import { gumbelSpecs } from './sample-pick/noise-probe.ts';

export const ALL_SPECS: OpSpec<any>[] = [
  ...binarySpecs,
  ...unarySpecs,
  ...reduceSpecs,
  ...matmulSpecs,
  ...attentionSpecs,
  ...softmaxSpecs,
  ...softmaxXentSpecs,
  ...adamwSpecs,
  ...rngSpecs,
  ...rmsnormSpecs,
  ...ropeSpecs,
  ...swigluSpecs,
  ...embeddingSpecs,
  ...samplePickSpecs,
  ...gumbelSpecs,
];
