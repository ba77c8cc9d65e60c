// Kernel variants: the per-adapter rules on described adapters (lavapipe, SwiftShader, NVIDIA, a
// GPU without subgroups), the adapter facts they read, the override syntax, and on the real device
// that forcing a variant through openDevice's `kernels` option makes every op launch that variant's
// kernel (seen by recording the pipelines it asks the runtime for), with bad overrides failing
// with the names that exist.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  adapterFacts,
  kernelChoices,
  parseKernelChoices,
  UNKNOWN_ADAPTER,
  type AdapterFacts,
} from '../engine/adapter.ts';
import { UserError } from '../engine/errors.ts';
import type { Overrides, Runtime, WgslSource } from '../engine/runtime.ts';
import { tensor } from '../engine/tensor.ts';
import { closeDevice, deviceFor, gpuDevice } from '../tests/gpu.ts';
import { defaultVariant, kernelPlan, variantsOf, type KernelOp } from './variants.ts';
import { matmul } from './matmul/matmul.ts';
import { attention } from './attention/attention.ts';
import { rmsnorm } from './rmsnorm/rmsnorm.ts';
import { softmaxCrossEntropy } from './softmax-xent/softmax-xent.ts';

const LIMITS = {} as GPUSupportedLimits;
const adapter = (a: Partial<typeof UNKNOWN_ADAPTER>, features: string[] = ['subgroups']): AdapterFacts =>
  adapterFacts({ ...UNKNOWN_ADAPTER, ...a }, new Set(features), LIMITS);

const lavapipe = adapter({
  vendor: 'mesa',
  architecture: 'software',
  device: 'llvmpipe-llvm-15-0-6-256-bits-',
  description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)',
  subgroupMinSize: 8,
  subgroupMaxSize: 8,
  isFallbackAdapter: true,
});
const swiftshader = adapter({ vendor: 'google', device: 'SwiftShader Device', subgroupMinSize: 4, subgroupMaxSize: 4 });
const nvidia = adapter({ vendor: 'nvidia', architecture: 'hopper', subgroupMinSize: 32, subgroupMaxSize: 32 });
const intel = adapter({ vendor: 'intel', architecture: 'gen-12lp', subgroupMinSize: 8, subgroupMaxSize: 32 });
const bare = adapter({ vendor: 'amd', architecture: 'rdna-3' }, []);

test('adapter facts: software from the fallback flag, the architecture or the name; fixed subgroup size', () => {
  assert.ok(lavapipe.software && swiftshader.software);
  assert.ok(adapter({ isFallbackAdapter: true }).software, 'isFallbackAdapter alone');
  assert.ok(adapter({ architecture: 'software' }).software, "architecture 'software' alone");
  assert.ok(adapter({ description: 'Microsoft Basic Render Driver' }).software, 'WARP by name');
  assert.not.ok(nvidia.software || intel.software || bare.software);
  assert.is(lavapipe.subgroupSize, 8);
  assert.is(intel.subgroupSize, 0, 'sizes vary: no fixed size');
  assert.is(adapter({ subgroupMinSize: 16, subgroupMaxSize: 16 }, []).subgroupSize, 0, 'no subgroups feature');
  assert.is(lavapipe.limits, LIMITS, 'limits are the ones handed in (the runtime passes its effective limits)');
});

test('default variants per adapter: CPU adapters avoid barriers, GPUs get the GPU designs', () => {
  const expect: [AdapterFacts, string, Record<KernelOp, string>][] = [
    [
      lavapipe,
      'lavapipe',
      { matmul: 'subgroup', attention: 'subgroup', rmsnorm: 'subgroup', 'softmax-xent': 'invocation' },
    ],
    [
      swiftshader,
      'swiftshader',
      { matmul: 'portable', attention: 'subgroup', rmsnorm: 'subgroup', 'softmax-xent': 'invocation' },
    ],
    [nvidia, 'nvidia', { matmul: 'tiled', attention: 'portable', rmsnorm: 'subgroup', 'softmax-xent': 'workgroup' }],
    [intel, 'intel', { matmul: 'tiled', attention: 'portable', rmsnorm: 'workgroup', 'softmax-xent': 'workgroup' }],
    [
      bare,
      'no subgroups',
      { matmul: 'tiled', attention: 'portable', rmsnorm: 'workgroup', 'softmax-xent': 'workgroup' },
    ],
  ];
  for (const [f, name, want] of expect) {
    for (const op of Object.keys(want) as KernelOp[]) assert.is(defaultVariant(op, f), want[op], `${name} ${op}`);
  }
  const cpuNoSubgroups = adapter({ isFallbackAdapter: true }, []);
  assert.is(defaultVariant('matmul', cpuNoSubgroups), 'portable');
  assert.is(defaultVariant('rmsnorm', cpuNoSubgroups), 'invocation');
});

test('override syntax: op:variant lists, the option wins per op over the environment', () => {
  assert.equal(parseKernelChoices(' matmul:tiled , attention:portable,', 'x'), {
    matmul: 'tiled',
    attention: 'portable',
  });
  assert.equal(parseKernelChoices('', 'x'), {});
  for (const bad of ['matmul', 'matmul=tiled', 'matmul:tiled:x', 'matmul:tiled,matmul:portable']) {
    assert.throws(
      () => parseKernelChoices(bad, 'DLLM_WGPU_KERNELS'),
      (e: Error) => {
        return e instanceof UserError && e.message.startsWith('DLLM_WGPU_KERNELS: ');
      },
    );
  }
  assert.equal(kernelChoices('matmul:portable', 'matmul:tiled,rmsnorm:workgroup'), {
    matmul: 'portable',
    rmsnorm: 'workgroup',
  });
  assert.equal(kernelChoices({ attention: 'portable' }, undefined), { attention: 'portable' });
});

test('bad overrides are user errors naming what exists; a variant the adapter cannot run is refused', () => {
  const fake = (facts: AdapterFacts, kernelChoices: Record<string, string>) =>
    ({ facts, kernelChoices }) as unknown as Runtime;
  const message = (rt: Runtime): string => {
    try {
      kernelPlan(rt);
    } catch (e) {
      assert.instance(e, UserError);
      return (e as Error).message;
    }
    throw new Error('expected a UserError');
  };
  assert.match(
    message(fake(nvidia, { matmull: 'tiled' })),
    /no op matmull .* matmul, attention, rmsnorm, softmax-xent/,
  );
  assert.match(
    message(fake(nvidia, { matmul: 'fast' })),
    /matmul:fast: matmul has the variants portable, subgroup, tiled/,
  );
  assert.match(message(fake(bare, { matmul: 'subgroup' })), /cannot run it .*'subgroups' feature/);
  assert.match(message(fake(swiftshader, { matmul: 'subgroup' })), /cannot run it .*8\+ lanes.*4-4/);
  assert.match(message(fake(intel, { attention: 'subgroup' })), /cannot run it .*fixed subgroup size/);
  const plan = kernelPlan(fake(nvidia, { matmul: 'portable' }));
  assert.equal([plan.matmul.variant, plan.matmul.forced, plan.rmsnorm.forced], ['portable', true, false]);
});

/** The kernel files, entry points and LANES each launch on `rt` asks for while `fn` runs. */
async function launched(rt: Runtime, fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const kernel = rt.kernel.bind(rt);
  rt.kernel = (src: WgslSource, entry: string, o: Overrides = {}) => {
    seen.push(`${src.file.split('/').pop()}#${entry}${o.LANES !== undefined ? `[LANES=${o.LANES}]` : ''}`);
    return kernel(src, entry, o);
  };
  try {
    await rt.scope(fn);
  } finally {
    rt.kernel = kernel;
  }
  return seen;
}

// What each forced variant must launch, as seen in the recorded pipelines.
const EXPECT: Record<KernelOp, Record<string, (seen: string[], rt: Runtime) => boolean>> = {
  matmul: {
    portable: (s) => s.includes('matmul.wgsl#matmul_portable'),
    subgroup: (s) => s.some((k) => k.startsWith('matmul-subgroup.wgsl#')),
    tiled: (s) => s.includes('matmul-tiled.wgsl#matmul_tiled'),
  },
  attention: {
    portable: (s) => s.includes('attention.wgsl#attention_fwd') && !s.some((k) => k.startsWith('attention-subgroup')),
    subgroup: (s) => s.includes('attention-subgroup.wgsl#attention_fwd'),
  },
  rmsnorm: {
    invocation: (s) => s.includes('rmsnorm.wgsl#rmsnorm_fwd[LANES=1]'),
    workgroup: (s) => s.includes('rmsnorm.wgsl#rmsnorm_fwd[LANES=64]'),
    subgroup: (s, rt) => s.includes(`rmsnorm-sg.wgsl#rmsnorm_fwd[LANES=${rt.facts.subgroupSize}]`),
  },
  'softmax-xent': {
    invocation: (s) => s.includes('softmax-xent.wgsl#xent_fwd4[LANES=1]'),
    workgroup: (s) => s.includes('softmax-xent.wgsl#xent_fwd4[LANES=32]'),
  },
};

const RUN: Record<KernelOp, (rt: Runtime) => Promise<unknown>> = {
  matmul: (rt) =>
    matmul(tensor(rt, new Float32Array(64 * 64), [64, 64]), tensor(rt, new Float32Array(64 * 64), [64, 64])).read(),
  attention: (rt) => {
    const x = () => tensor(rt, new Float32Array(2 * 16), [1, 2, 1, 16]);
    return attention(x(), x(), x()).read();
  },
  rmsnorm: (rt) =>
    rmsnorm(tensor(rt, new Float32Array(4 * 32).fill(1), [4, 32]), tensor(rt, new Float32Array(32), [32]), 1e-5).read(),
  'softmax-xent': (rt) =>
    softmaxCrossEntropy(
      tensor(rt, new Float32Array(2 * 64), [2, 64]),
      tensor(rt, new Int32Array([1, 2]), [2], 'i32'),
      tensor(rt, new Float32Array([1, 1]), [2]),
    ).read(),
};

test('forcing a variant through the device override makes every op launch that variant', async () => {
  if (!(await gpuDevice())) return;
  for (const op of Object.keys(EXPECT) as KernelOp[]) {
    assert.equal(Object.keys(EXPECT[op]).sort(), [...variantsOf(op)].sort(), `${op}: every variant has an expectation`);
    for (const variant of variantsOf(op)) {
      const rt = await deviceFor(`${op}:${variant}`);
      if (!rt) continue;
      const seen = await launched(rt, () => RUN[op](rt));
      assert.ok(EXPECT[op][variant](seen, rt), `${op}:${variant} launched ${seen.join(', ')}`);
    }
  }
});

test('openDevice checks its override at once: a bad one fails before any work, naming the variants', async () => {
  if (!(await gpuDevice())) return;
  const { openDevice } = await import('../index.ts');
  try {
    await openDevice({ kernels: 'attention:fast' });
    assert.unreachable('expected a UserError');
  } catch (e) {
    assert.instance(e, UserError);
    assert.match((e as Error).message, /attention:fast: attention has the variants portable, subgroup/);
  }
});

test.after(closeDevice);
test.run();
