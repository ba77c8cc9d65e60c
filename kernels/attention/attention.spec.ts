// Property-test specs of fused attention (kernels/spec.ts): odd and tile-edge lengths, GQA head groups,
// f32/u32 key masks (a fully masked batch row too) and large logits, on each kernel variant (forced
// through the device's kernel override; the adapter's default is one of them). The kv16 specs store
// K and V as bf16 / f16 (a sampling KV cache; forward only) and compare with the reference on the
// decoded values, within the f32 tolerance: the kernels must accumulate exactly as with f32 K/V.
import * as fc from 'fast-check';
import type { OpCase, OpSpec } from '../spec.ts';
import { f32s, halfBits } from '../arb.ts';
import { halfValues, type HalfKind } from '../half.ref.ts';
import { attentionBackwardRef, attentionRef, type AttnDims } from './attention.ref.ts';
import { variantsOf, type VariantOf } from '../variants.ts';
import { attention } from './attention.ts';

type AttentionVariant = VariantOf<'attention'>;

interface AttnCase extends OpCase {
  params: AttnDims & { scale: number; mask: 'none' | 'f32' | 'u32'; kind?: HalfKind };
}

// Odd and tile-edge lengths (the subgroup kernels tile by 8 x rows-per-lane), plus anything 1..20.
const seqLen = fc.oneof(fc.constantFrom(1, 2, 7, 8, 9, 13, 16, 17), fc.integer({ min: 1, max: 20 }));

const attnArb: fc.Arbitrary<AttnCase> = fc
  .record({
    B: fc.integer({ min: 1, max: 2 }),
    T: seqLen,
    S: fc.option(seqLen, { freq: 2, nil: 0 }), // 0 -> S = T
    heads: fc.constantFrom<[number, number]>([1, 1], [2, 1], [2, 2], [4, 1], [4, 2], [4, 4]),
    D: fc.constantFrom(1, 3, 4, 8, 12, 16),
    mask: fc.constantFrom('none', 'none', 'f32', 'u32', 'dead'),
    big: fc.integer({ min: 0, max: 4 }), // 0: q, k up to 30 (logits in the thousands)
    scale: fc.option(fc.constant(0.3), { freq: 4, nil: 0 }),
  })
  .chain((p) => {
    const S = p.S || p.T;
    const [H, Hkv] = p.heads;
    const lim = p.big === 0 ? 30 : 4;
    return fc
      .tuple(
        f32s(p.B * p.T * H * p.D, -lim, lim),
        f32s(p.B * S * Hkv * p.D, -lim, lim),
        f32s(p.B * S * Hkv * p.D),
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: p.B * S, maxLength: p.B * S }),
        fc.integer({ min: 0, max: p.B - 1 }),
      )
      .map(([q, k, v, bits, dead]): AttnCase => {
        const dims = { B: p.B, T: p.T, S, H, Hkv, D: p.D };
        const inputs: OpCase['inputs'] = [
          { name: 'q', shape: [p.B, p.T, H, p.D], data: q },
          { name: 'k', shape: [p.B, S, Hkv, p.D], data: k },
          { name: 'v', shape: [p.B, S, Hkv, p.D], data: v },
        ];
        const mask = p.mask === 'dead' ? 'f32' : p.mask;
        if (mask !== 'none') {
          // ~70% of keys attend; 'dead' masks every key of one batch row (fully masked queries).
          const on = bits.map((x, i) => (p.mask === 'dead' && Math.floor(i / S) === dead ? 0 : x < 7 ? 1 : 0));
          const data = mask === 'f32' ? Float32Array.from(on) : Uint32Array.from(on);
          inputs.push({ name: 'keyMask', shape: [p.B, S], data, dtype: mask, grad: false });
        }
        return { inputs, params: { ...dims, scale: p.scale || 1 / Math.sqrt(p.D), mask } };
      });
  });

const EPS32 = 2 ** -23;
const absMax = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

/**
 * Error budget from f32 logits: z = scale q·k carries ~eps (sqrt(D) + 2) scale Σ|q_i k_i| of
 * rounding, and p = exp(z - lse) inherits it as a relative error (twice: z and lse). Large logits
 * therefore get a proportionally larger tolerance; f32 cannot do better.
 */
function logitErr(c: AttnCase): number {
  const { B, T, S, H, Hkv, D, scale } = c.params;
  const [q, k] = [c.inputs[0].data, c.inputs[1].data];
  let z = 0;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++)
        for (let s = 0; s < S; s++) {
          let a = 0;
          for (let i = 0; i < D; i++)
            a += Math.abs(
              q[((b * T + t) * H + h) * D + i] * k[((b * S + s) * Hkv + Math.floor(h / (H / Hkv))) * D + i],
            );
          z = Math.max(z, a * scale);
        }
  return 2 * EPS32 * (Math.sqrt(D) + 2) * z;
}

function attnTol(c: AttnCase) {
  const vmax = Math.max(1, absMax(c.inputs[2].data));
  return { atol: vmax * (2e-6 + logitErr(c) / 8), rtol: 1e-5 };
}

function attnGradTol(c: AttnCase) {
  const { T, S, H, Hkv, D, scale } = c.params;
  const vmax = Math.max(1, absMax(c.inputs[2].data));
  const qk = Math.max(1, scale * Math.max(absMax(c.inputs[0].data), absMax(c.inputs[1].data)));
  // |dP| <= D vmax (|dO| < 1); dK/dV sum over the group's query rows, dQ over keys.
  const m = qk * D * vmax * Math.sqrt(Math.max((H / Hkv) * T, S));
  return { atol: m * (1e-7 + logitErr(c) / 4), rtol: 1e-5 };
}

function attnSpec(variant: AttentionVariant): OpSpec<AttnCase> {
  return {
    name: `attention.${variant}`,
    kernel: 'attention',
    kernels: `attention:${variant}`,
    arb: attnArb,
    gpu: (_rt, [q, k, v, mask], c) => attention(q, k, v, { keyMask: mask, scale: c.params.scale }),
    ref: (c) =>
      attentionRef(
        c.params,
        c.inputs[0].data,
        c.inputs[1].data,
        c.inputs[2].data,
        c.inputs[3]?.data ?? null,
        c.params.scale,
      ),
    refBackward: (c, g) => [
      ...attentionBackwardRef(
        c.params,
        c.inputs[0].data,
        c.inputs[1].data,
        c.inputs[2].data,
        c.inputs[3]?.data ?? null,
        c.params.scale,
        g,
      ),
      null,
    ],
    tol: attnTol,
    gradTol: attnGradTol,
  };
}

/** The case with K and V replaced by the values their 16-bit bits decode to (for ref and tol). */
function decoded(c: AttnCase): AttnCase {
  const kind = c.params.kind as HalfKind;
  const dec = (i: number) => ({ ...c.inputs[i], data: Float32Array.from(halfValues(c.inputs[i].data, kind)) });
  return { ...c, inputs: [c.inputs[0], dec(1), dec(2), ...c.inputs.slice(3)] };
}

function attnHalfSpec(variant: AttentionVariant): OpSpec<AttnCase> {
  const base = attnSpec(variant);
  return {
    name: `attention.${variant}.kv16`,
    kernel: 'attention',
    kernels: `attention:${variant}`,
    arb: fc.tuple(attnArb, fc.constantFrom<HalfKind>('bf16', 'f16')).map(([c, kind]): AttnCase => {
      const half = (i: number) => ({
        ...c.inputs[i],
        data: halfBits(c.inputs[i].data as Float32Array, kind),
        dtype: kind,
        grad: false,
      });
      return { inputs: [c.inputs[0], half(1), half(2), ...c.inputs.slice(3)], params: { ...c.params, kind } };
    }),
    gpu: (rt, inputs, c) => base.gpu(rt, inputs, c),
    ref: (c) => base.ref(decoded(c)),
    tol: (c) => attnTol(decoded(c)),
  };
}

/** One spec per kernel variant (the adapter's default is one of them), with f32 and 16-bit K/V. */
export const attentionSpecs: OpSpec[] = [
  ...variantsOf('attention').map(attnSpec),
  ...variantsOf('attention').map(attnHalfSpec),
];
