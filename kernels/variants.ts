// How every op with more than one kernel design picks its variant: one table, one rule per op, read
// from the adapter's facts (engine/adapter.ts), and one override for all of them (openDevice's
// `kernels` option, env DLLM_WGPU_KERNELS, CLI --kernels: `matmul:tiled,attention:portable`).
// Launchers call `variantOf(rt, op)` and never look at the adapter themselves. A forced variant
// the adapter cannot run, or a name that is not in the table, is an error (listing what exists),
// never a silent fallback. The choice is made once per device and cached.
import type { AdapterFacts } from '../engine/adapter.ts';
import type { Runtime } from '../engine/runtime.ts';
import { UserError } from '../engine/errors.ts';

interface Rule<V extends string> {
  variants: readonly V[];
  /** Why `v` cannot run on an adapter with these facts, or null when it can. */
  cannot(v: V, f: AdapterFacts): string | null;
  /** The variant an adapter gets unless forced; always one it can run. */
  choose(f: AdapterFacts): V;
}

const rule = <V extends string>(r: Rule<V>): Rule<V> => r;

/** The largest subgroup the attention subgroup kernels are specialised for (registers per lane). */
export const ATTENTION_MAX_SUBGROUP = 16;
/** Workgroup size of the rmsnorm kernels: a subgroup-per-row layout needs subgroups that divide it. */
export const RMSNORM_WG = 64;

const needsSubgroupSize = (f: AdapterFacts, ok: (n: number) => boolean, what: string) =>
  !f.subgroups
    ? "needs the 'subgroups' feature, which this device lacks"
    : ok(f.subgroupSize)
      ? null
      : `needs ${what}; this adapter's subgroups have ${f.subgroupMinSize}-${f.subgroupMaxSize} lanes`;

// One 8-invocation workgroup must be one subgroup (its shuffles span the workgroup).
const matmulSubgroup = (f: AdapterFacts) =>
  !f.subgroups
    ? "needs the 'subgroups' feature, which this device lacks"
    : f.subgroupMinSize >= 8
      ? null
      : `needs subgroups of 8+ lanes; this adapter's have ${f.subgroupMinSize}-${f.subgroupMaxSize}`;
const attentionSubgroup = (f: AdapterFacts) =>
  needsSubgroupSize(
    f,
    (n) => n >= 1 && n <= ATTENTION_MAX_SUBGROUP,
    `a fixed subgroup size <= ${ATTENTION_MAX_SUBGROUP}`,
  );
const rmsnormSubgroup = (f: AdapterFacts) =>
  needsSubgroupSize(
    f,
    (n) => n >= 1 && n <= RMSNORM_WG && (n & (n - 1)) === 0,
    `a fixed power-of-two subgroup size <= ${RMSNORM_WG}`,
  );

const RULES = {
  // subgroup: 8-lane shuffles share vec4 loads (the design that pays on CPU adapters, where a load
  // is a per-lane gather); tiled: shared-memory tiles and barriers (what GPUs want, a context
  // switch per barrier on a CPU); portable: neither, correct everywhere.
  matmul: rule({
    variants: ['portable', 'subgroup', 'tiled'],
    cannot: (v, f) => (v === 'subgroup' ? matmulSubgroup(f) : null),
    choose: (f) => (!f.software ? 'tiled' : matmulSubgroup(f) === null ? 'subgroup' : 'portable'),
  }),
  // subgroup: the head dim split over subgroup lanes, loads amortised over 8-16 rows (CPU
  // adapters); portable: one invocation per query/key row (GPUs).
  attention: rule({
    variants: ['portable', 'subgroup'],
    cannot: (v, f) => (v === 'subgroup' ? attentionSubgroup(f) : null),
    choose: (f) => (f.software && attentionSubgroup(f) === null ? 'subgroup' : 'portable'),
  }),
  // subgroup: one subgroup per row (subgroupAdd), wherever the subgroup size is fixed: the warp-per-row
  // layout of GPUs, and on llvmpipe 1.7x one row per invocation at C >= 1024; invocation: one row
  // per invocation (no barriers: CPU adapters); workgroup: a 64-lane tree in workgroup memory.
  rmsnorm: rule({
    variants: ['invocation', 'subgroup', 'workgroup'],
    cannot: (v, f) => (v === 'subgroup' ? rmsnormSubgroup(f) : null),
    choose: (f) => (rmsnormSubgroup(f) === null ? 'subgroup' : f.software ? 'invocation' : 'workgroup'),
  }),
  // invocation: one row per invocation (no barriers: CPU adapters); workgroup: 32-256 lanes per
  // row by vocabulary size, a tree in workgroup memory (GPUs).
  'softmax-xent': rule({
    variants: ['invocation', 'workgroup'],
    cannot: () => null,
    choose: (f) => (f.software ? 'invocation' : 'workgroup'),
  }),
};

export type KernelOp = keyof typeof RULES;
export type VariantOf<O extends KernelOp> = (typeof RULES)[O]['variants'][number];
export const KERNEL_OPS = Object.keys(RULES) as KernelOp[];

export interface OpChoice {
  variant: string;
  /** Set by an override rather than by the adapter rule. */
  forced: boolean;
  /** Every variant of the op, and why the adapter cannot run each one it cannot. */
  variants: { name: string; unavailable: string | null }[];
}

export type KernelPlan = Record<KernelOp, OpChoice>;

const plans = new WeakMap<Runtime, KernelPlan>();

/**
 * The variant of every op on `rt`, with the device's overrides applied and checked (unknown op or
 * variant, or a variant this adapter cannot run: a UserError saying what exists). Cached per device.
 */
export function kernelPlan(rt: Runtime): KernelPlan {
  const hit = plans.get(rt);
  if (hit) return hit;
  const f = rt.facts;
  const forced = rt.kernelChoices;
  for (const op of Object.keys(forced)) {
    if (!(op in RULES)) {
      throw new UserError(
        `kernel override ${op}:${forced[op]}: no op ${op} has variants; those that do: ${KERNEL_OPS.join(', ')}`,
      );
    }
  }
  const plan = {} as KernelPlan;
  for (const op of KERNEL_OPS) {
    const r = RULES[op] as Rule<string>;
    const want = forced[op];
    if (want !== undefined) {
      if (!r.variants.includes(want)) {
        throw new UserError(`kernel override ${op}:${want}: ${op} has the variants ${r.variants.join(', ')}`);
      }
      const why = r.cannot(want, f);
      if (why) throw new UserError(`kernel override ${op}:${want}: this adapter cannot run it (${op} ${want} ${why})`);
    }
    plan[op] = {
      variant: want ?? r.choose(f),
      forced: want !== undefined,
      variants: r.variants.map((name) => ({ name, unavailable: r.cannot(name, f) })),
    };
  }
  plans.set(rt, plan);
  return plan;
}

/** The variant `op` runs on `rt`. */
export function variantOf<O extends KernelOp>(rt: Runtime, op: O): VariantOf<O> {
  return kernelPlan(rt)[op].variant as VariantOf<O>;
}

/** Why `op` cannot run `variant` on `rt`, or null when it can (tests skip such variants visibly). */
export function unavailable(rt: Runtime, op: KernelOp, variant: string): string | null {
  return (RULES[op] as Rule<string>).cannot(variant, rt.facts);
}

/** The variants of `op`, in table order. */
export function variantsOf<O extends KernelOp>(op: O): readonly VariantOf<O>[] {
  return RULES[op].variants;
}

/** What `op` would choose on an adapter with these facts, ignoring overrides (tests of the rules). */
export function defaultVariant<O extends KernelOp>(op: O, f: AdapterFacts): VariantOf<O> {
  return RULES[op].choose(f);
}
