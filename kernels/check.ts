// The generic property check behind the kernel tests and `dllm-wgpu fuzz`: for one case of one op
// spec, GPU forward vs CPU reference, GPU backward (through autograd) vs the reference backward,
// and the reference backward vs float64 central finite differences of the reference forward.
// Mismatch reports name the op, the case's shapes and the worst elements with their indices.
import type { Runtime } from '../engine/runtime.ts';
import { tensor, type Tensor } from '../engine/tensor.ts';
import { backward } from '../engine/autograd.ts';
import type { OpCase, OpSpec, Tolerance } from './spec.ts';

export function allclose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what: string): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  }
  const bad: [number, number, number, number][] = [];
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i],
      e = expected[i];
    const err = Math.abs(a - e);
    if (!(err <= tol.atol + tol.rtol * Math.abs(e))) bad.push([i, a, e, err]);
  }
  if (bad.length) {
    bad.sort((x, y) => (Number.isNaN(y[3]) ? 1 : y[3] - x[3]));
    const worst = bad
      .slice(0, 5)
      .map(([i, a, e]) => `[${i}] got ${a} want ${e}`)
      .join('; ');
    throw new Error(
      `${what}: ${bad.length}/${actual.length} elements outside atol ${tol.atol} rtol ${tol.rtol}; worst: ${worst}`,
    );
  }
}

export function exactEqual(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  allclose(actual, expected, { atol: 0, rtol: 0 }, what);
}

function describe(c: OpCase): string {
  const shapes = c.inputs.map((i) => `${i.name}[${i.shape.join(',')}]`).join(' ');
  return `${shapes}${c.params ? ' ' + JSON.stringify(c.params) : ''}`;
}

/** Deterministic gradient seed for a case: values in [-1, 1). */
function seedGrad(n: number): Float64Array {
  const g = new Float64Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    g[i] = Math.fround((s / 2 ** 32) * 2 - 1);
  }
  return g;
}

const isDiff = (inp: OpCase['inputs'][number]) => (inp.dtype ?? 'f32') === 'f32' && inp.grad !== false;

export async function checkCase<C extends OpCase>(
  rt: Runtime,
  spec: OpSpec<C>,
  c: C,
  opts: { finiteDiff?: boolean } = {},
): Promise<void> {
  const where = `${spec.name} ${describe(c)}`;
  await rt.scope(async () => {
    const ins: Tensor[] = c.inputs.map((i) => {
      const t = tensor(rt, i.data, i.shape, i.dtype ?? 'f32', i.name);
      if (spec.refBackward && isDiff(i)) t.requiresGrad = true;
      return t;
    });
    const out = spec.gpu(rt, ins, c);
    const got = await out.read();
    const want = spec.ref(c);
    if (spec.exact) exactEqual(got, want, `${where}: forward`);
    else allclose(got, want, spec.tol(c), `${where}: forward`);
    if (!spec.refBackward) return;
    const g = seedGrad(out.size);
    const wantGrads = spec.refBackward(c, g);
    if (out.requiresGrad) {
      backward(out, tensor(rt, Float32Array.from(g), out.shape, 'f32', 'seed'));
      for (let k = 0; k < ins.length; k++) {
        const w = wantGrads[k];
        if (!w || !ins[k].requiresGrad) continue;
        const gt = ins[k].grad;
        if (!gt) throw new Error(`${where}: no gradient reached input ${c.inputs[k].name}`);
        const gv = await gt.read();
        gt.dispose();
        allclose(gv, w, (spec.gradTol ?? spec.tol)(c), `${where}: grad ${c.inputs[k].name}`);
      }
    }
    if (opts.finiteDiff !== false && !spec.noFiniteDiff) finiteDiffCheck(spec, c, g, wantGrads, where);
  });
}

/** The reference backward against float64 central differences, on a few coordinates per input. */
function finiteDiffCheck<C extends OpCase>(
  spec: OpSpec<C>,
  c: C,
  g: Float64Array,
  grads: (ArrayLike<number> | null)[],
  where: string,
): void {
  const h = 1e-6;
  const f = (cc: C) => {
    const y = spec.ref(cc);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * g[i];
    return s;
  };
  c.inputs.forEach((inp, k) => {
    const an = grads[k];
    if (!an || !isDiff(inp)) return;
    const n = inp.data.length;
    const coords = n <= 6 ? [...Array(n).keys()] : [0, n - 1, n >> 1, (n * 7) >> 4, (n * 13) >> 4];
    for (const j of coords) {
      const x = Float64Array.from(inp.data);
      const mk = (v: number) => {
        const xx = Float64Array.from(x);
        xx[j] = v;
        return {
          ...c,
          inputs: c.inputs.map((q, i) => (i === k ? { ...q, data: xx as unknown as Float32Array } : q)),
        } as C;
      };
      const fd = (f(mk(x[j] + h)) - f(mk(x[j] - h))) / (2 * h);
      const err = Math.abs(fd - an[j]);
      if (err > 1e-4 + 1e-3 * Math.abs(fd)) {
        throw new Error(`${where}: reference grad ${inp.name}[${j}] = ${an[j]} but finite differences give ${fd}`);
      }
    }
  });
}
