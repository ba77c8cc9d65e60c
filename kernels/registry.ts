// The explicit list of every op spec the property suite and `dllm-wgpu fuzz` run. A meta-test
// (kernels/ops.test.ts) fails when a kernels/<op>/ folder lacks its .wgsl, .ref.ts, .spec.ts or a
// spec here. Test code: the library never imports this file (fuzz loads it on demand).
import type { OpSpec } from './spec.ts';
import { axpySpec, binarySpecs, unarySpecs } from './elementwise/elementwise.spec.ts';
import { reduceSpecs } from './reduce/reduce.spec.ts';
import { matmulSpecs } from './matmul/matmul.spec.ts';
import { attentionSpecs } from './attention/attention.spec.ts';
import { softmaxSpecs } from './softmax/softmax.spec.ts';
import { softmaxXentSpecs } from './softmax-xent/softmax-xent.spec.ts';
import { adamwSpecs } from './adamw/adamw.spec.ts';
import { rngSpecs } from './rng/rng.spec.ts';
import { rmsnormSpecs } from './rmsnorm/rmsnorm.spec.ts';
import { ropeSpecs } from './rope/rope.spec.ts';
import { swigluSpecs } from './swiglu/swiglu.spec.ts';
import { embeddingSpecs } from './embedding/embedding.spec.ts';
import { samplePickSpecs } from './sample-pick/sample-pick.spec.ts';
import { gumbelSpecs } from './sample-pick/noise-probe.ts';
import { castSpecs } from './cast/cast.spec.ts';

export const ALL_SPECS: OpSpec[] = [
  ...binarySpecs,
  ...unarySpecs,
  axpySpec,
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
  ...castSpecs,
];
