// LoRA on one linear: the CPU reference's gradients against float64 finite differences, then the
// GPU path (model/lora.ts over the engine's linear, scale, mul and add) against the reference,
// forward and backward, on random shapes, with f32 or bf16 frozen weights and with either dropout
// position; the dropout masks are a function of their key alone. Seeds print on failure
// (FC_SEED / FC_PATH replay).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { tensor } from '../engine/tensor.ts';
import { backward, requireGrad } from '../engine/autograd.ts';
import { linear } from '../kernels/matmul/matmul.ts';
import { allclose } from '../kernels/check.ts';
import { checkProperty, closeDevice, fcParams, gpuDevice } from '../tests/gpu.ts';
import { bf16BitsToF32, f32ToBf16Bits } from './float-convert.ts';
import { LoraAdapters, loraAName, loraBName, type LoraModuleSpec } from './lora.ts';
import { loraLinearRef, loraLinearRefBackward, type LoraCase } from './lora.ref.ts';

const dims = fc.record({
  N: fc.integer({ min: 1, max: 9 }),
  inF: fc.integer({ min: 1, max: 12 }),
  outF: fc.integer({ min: 1, max: 12 }),
  r: fc.integer({ min: 1, max: 4 }),
  s: fc.double({ min: 0.25, max: 4, noNaN: true }),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
  drop: fc.constantFrom('none', 'pre', 'post'),
});

function rand(n: number, seed: number, lim = 1): Float64Array {
  let s = seed >>> 0 || 1;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return Math.fround((s / 2 ** 32 - 0.5) * 2 * lim);
  });
}

type Dims = typeof dims extends fc.Arbitrary<infer T> ? T : never;

function caseOf(d: Dims): LoraCase {
  const r = Math.min(d.r, d.inF, d.outF);
  const mask = (n: number, k: number) => rand(n, d.seed + k).map((u) => (u > -0.5 ? 1 / 0.75 : 0));
  return {
    N: d.N,
    inF: d.inF,
    outF: d.outF,
    r,
    s: d.s,
    x: rand(d.N * d.inF, d.seed + 1),
    W: rand(d.outF * d.inF, d.seed + 2),
    A: rand(r * d.inF, d.seed + 3),
    B: rand(d.outF * r, d.seed + 4),
    pre: d.drop === 'pre' ? mask(d.N * d.inF, 5) : null,
    post: d.drop === 'post' ? mask(d.N * d.outF, 6) : null,
  };
}

test('LoRA reference: gradients of x, A and B match float64 central finite differences', () => {
  fc.assert(
    fc.property(dims, (d) => {
      const c = caseOf(d);
      const R = rand(c.N * c.outF, d.seed + 9);
      const f = (cc: LoraCase) => loraLinearRef(cc).reduce((a, v, i) => a + v * R[i], 0);
      const g = loraLinearRefBackward(c, R);
      const h = 1e-6;
      for (const [key, grad] of [
        ['x', g.dx],
        ['A', g.dA],
        ['B', g.dB],
      ] as const) {
        const num = c[key].map((_, i) => {
          const plus = c[key].slice(),
            minus = c[key].slice();
          plus[i] += h;
          minus[i] -= h;
          return (f({ ...c, [key]: plus }) - f({ ...c, [key]: minus })) / (2 * h);
        });
        allclose(grad, num, { atol: 1e-6, rtol: 1e-6 }, `d${key}`);
      }
    }),
    fcParams(40),
  );
});

test('LoRA on the GPU matches the reference: output, dx, dA, dB (f32 and bf16 frozen W, dropout pre/post)', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const arb = fc.tuple(dims, fc.boolean());
  await checkProperty(
    'lora',
    arb,
    async ([d, half]) => {
      const c = caseOf(d);
      const spec: LoraModuleSpec = {
        path: 'model.transformer.blocks.0.q_proj',
        layer: 0,
        name: 'q_proj',
        outF: c.outF,
        inF: c.inF,
        rank: c.r,
        scale: c.s,
      };
      const lora = new LoraAdapters(rt, [spec], {
        dropout: d.drop === 'none' ? 0 : 0.3,
        dropoutPosition: d.drop === 'pre' ? 'pre' : 'post',
      });
      try {
        const flat = new Float32Array(lora.params.totalFloats);
        flat.set(c.A, lora.params.offsets.get(loraAName(spec.path)));
        flat.set(c.B, lora.params.offsets.get(loraBName(spec.path)));
        lora.params.writeArena('param', flat);
        lora.params.enableGrad();
        if (d.drop !== 'none') {
          lora.dropoutKey = { seed: d.seed, step: 3, micro: 1 };
          const m = Float64Array.from(lora.maskValues(spec, [c.N, d.drop === 'pre' ? c.inF : c.outF]));
          if (d.drop === 'pre') c.pre = m;
          else c.post = m;
        }
        let Wt;
        if (half) {
          const bits = new Uint16Array(c.W.length);
          f32ToBf16Bits(Float32Array.from(c.W), bits);
          const back = new Float32Array(bits.length);
          bf16BitsToF32(bits, back);
          c.W = Float64Array.from(back);
          Wt = tensor(rt, bits, [c.outF, c.inF], 'bf16', 'W');
        } else Wt = tensor(rt, Float32Array.from(c.W), [c.outF, c.inF], 'f32', 'W');
        const R = rand(c.N * c.outF, d.seed + 9);
        const got = await rt.scope(async () => {
          const x = requireGrad(tensor(rt, Float32Array.from(c.x), [c.N, c.inF], 'f32', 'x'));
          const y = lora.apply(spec.path, x, linear(x, Wt));
          backward(y, tensor(rt, Float32Array.from(R), y.shape, 'f32', 'dy'));
          const out = {
            y: await y.read(),
            dx: await x.grad!.read(),
            dA: await lora.params.get(loraAName(spec.path)).grad!.read(),
            dB: await lora.params.get(loraBName(spec.path)).grad!.read(),
          };
          x.grad!.dispose();
          return out;
        });
        Wt.dispose();
        const want = loraLinearRefBackward(c, R);
        const tol = { atol: 2e-5 * (c.inF + c.r), rtol: 1e-4 };
        allclose(got.y, loraLinearRef(c), tol, 'y');
        allclose(got.dx, want.dx, tol, 'dx');
        allclose(got.dA, want.dA, tol, 'dA');
        allclose(got.dB, want.dB, tol, 'dB');
      } finally {
        lora.dispose();
      }
    },
    15,
    'node --import tsx model/lora.test.ts',
  );
});

test('LoRA dropout masks depend on (seed, step, micro-batch, layer, module) and nothing else', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const mk = (layer: number, name: 'q_proj' | 'v_proj'): LoraModuleSpec => ({
    path: `model.transformer.blocks.${layer}.${name}`,
    layer,
    name,
    outF: 8,
    inF: 8,
    rank: 2,
    scale: 1,
  });
  const mods = [mk(0, 'q_proj'), mk(0, 'v_proj'), mk(1, 'q_proj')];
  const lora = new LoraAdapters(rt, mods, { dropout: 0.5, dropoutPosition: 'pre' });
  try {
    const draw = (m: LoraModuleSpec, seed: number, step: number, micro: number) => {
      lora.dropoutKey = { seed, step, micro };
      return Array.from(lora.maskValues(m, [4, 8]));
    };
    const base = draw(mods[0], 1, 5, 0);
    assert.equal(draw(mods[0], 1, 5, 0), base, 'the same key redraws the same mask (recomputation)');
    assert.ok(base.every((v) => v === 0 || v === 2));
    for (const other of [draw(mods[1], 1, 5, 0), draw(mods[2], 1, 5, 0), draw(mods[0], 2, 5, 0)]) {
      assert.not.equal(other, base);
    }
    assert.not.equal(draw(mods[0], 1, 6, 0), base);
    assert.not.equal(draw(mods[0], 1, 5, 1), base);
  } finally {
    lora.dispose();
  }
});

test.after(closeDevice);
test.run();
