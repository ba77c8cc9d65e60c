// Reverse-mode autograd over an implicit tape: each op that sees an input requiring grad attaches
// a GradNode to its output. backward() walks the graph in reverse topological order, sums the
// gradients that meet at a tensor, and accumulates leaf gradients into `.grad` (allocated on
// first use, or an arena view the caller installed). Intermediates and gradients are tensors of
// the enclosing scope, released when it ends. No-grad mode (sampling) records nothing.
// checkpoint() is activation recomputation (Chen et al. 2016, "Training Deep Nets with Sublinear
// Memory Cost"; PyTorch's torch.utils.checkpoint): a segment's forward keeps only its output, and
// its backward re-runs the segment with recording on and backpropagates through that.
import { EngineError } from './errors.ts';
import { Tensor, fill0, empty } from './tensor.ts';

export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Gradients for each input (null where the input needs none), given the output's gradient. */
  backward(gradOut: Tensor): readonly (Tensor | null)[];
}

let gradDisabled = 0;
/** Inside a checkpoint's first forward: record() attaches nothing and collects the inputs that need grad. */
let captured: Set<Tensor> | null = null;

/** Whether this is a training (grad-mode) forward; true inside a checkpointed forward too, so dropout draws as in training. */
export function isGradEnabled(): boolean {
  return gradDisabled === 0;
}

/** Run `fn` without recording any graph (sampling, evaluation). */
export function noGrad<T>(fn: () => T): T {
  gradDisabled++;
  try {
    return fn();
  } finally {
    gradDisabled--;
  }
}

export async function noGradAsync<T>(fn: () => Promise<T>): Promise<T> {
  gradDisabled++;
  try {
    return await fn();
  } finally {
    gradDisabled--;
  }
}

/** Attach a node to `out` when any input needs a gradient. Ops call this once per output. */
export function record(
  op: string,
  out: Tensor,
  inputs: readonly Tensor[],
  backward: (gradOut: Tensor) => readonly (Tensor | null)[],
): Tensor {
  if (gradDisabled > 0) return out;
  if (captured) {
    for (const t of inputs) if (t.requiresGrad) captured.add(t);
    return out;
  }
  if (inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward };
  }
  return out;
}

/** Mark a leaf tensor as a parameter that wants `.grad`. */
export function requireGrad(t: Tensor): Tensor {
  t.requiresGrad = true;
  return t;
}

/**
 * Backpropagate from `root`. `seed` is d(objective)/d(root); omitted, root must have one element
 * and the seed is 1. Leaf gradients accumulate into `.grad`.
 */
export function backward(root: Tensor, seed?: Tensor): void {
  root.assertLive('backward');
  if (!root.requiresGrad)
    throw new EngineError(`backward: ${root.toString()} does not require grad (no parameter reached it)`);
  const rt = root.rt;
  if (!rt.add || !rt.accumulate) throw new EngineError('backward: kernels are not loaded (import kernels/index.ts)');
  if (!seed) {
    if (root.size !== 1)
      throw new EngineError(`backward: root ${root.toString()} is not a scalar; pass a seed gradient`);
    seed = empty(rt, root.shape, 'f32', 'grad:seed');
    rt.gpu.queue.writeBuffer(seed.buffer, seed.byteOffset, new Float32Array([1]));
  } else if (seed.size !== root.size) {
    throw new EngineError(`backward: seed ${seed.toString()} does not match root ${root.toString()}`);
  }
  propagate(root, seed, null);
}

/**
 * The walk under backward() and checkpoint(): from `root` with gradient `seed`, in reverse
 * topological order, summing the gradients that meet at a tensor. With `stops`, those tensors end
 * the walk (their producers are not visited) and their summed gradients are returned instead of
 * accumulated; without, leaves accumulate into `.grad`.
 */
function propagate(root: Tensor, seed: Tensor, stops: ReadonlySet<Tensor> | null): Map<Tensor, Tensor> {
  const rt = root.rt;
  // Reverse topological order by iterative DFS.
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    if (i === 0) {
      if (seen.has(t)) {
        stack.pop();
        continue;
      }
      seen.add(t);
    }
    const ins = (stops?.has(t) ? null : t.node?.inputs) ?? [];
    if (i < ins.length) {
      top[1]++;
      if (ins[i].requiresGrad && !seen.has(ins[i])) stack.push([ins[i], 0]);
    } else {
      order.push(t);
      stack.pop();
    }
  }

  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  const stopped = new Map<Tensor, Tensor>();
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k];
    const g = grads.get(t);
    if (!g) continue;
    grads.delete(t);
    if (stops?.has(t)) {
      stopped.set(t, g);
      continue;
    }
    if (!t.node) {
      accumulateLeaf(t, g);
      continue;
    }
    const gins = t.node.backward(g);
    t.node.inputs.forEach((inp, j) => {
      const gi = gins[j];
      if (!gi || !inp.requiresGrad) return;
      if (gi.size !== inp.size) {
        throw new EngineError(
          `backward of ${t.node!.op}: gradient ${gi.toString()} does not match input ${inp.toString()}`,
        );
      }
      const prev = grads.get(inp);
      grads.set(inp, prev ? rt.add!(prev, gi) : gi);
    });
  }
  return stopped;
}

/**
 * y = fn(x), recomputed in the backward instead of kept: fn's intermediates are released as soon
 * as its forward ends (only x, held by the caller, and y stay), and the backward runs fn again with
 * recording on, backpropagates y's gradient through that to x and to every other tensor fn read
 * that needs a gradient (parameters), then releases it all. fn must be deterministic (a random
 * draw keyed by what the step knows, not by call count): the rerun must give y bit for bit, and
 * then every gradient equals the one without recomputation, since the walk inside visits fn's
 * graph in the order the whole-graph walk would. Each end (forward, backward) is a phase boundary:
 * it submits, so the next segment reuses the buffers this one released. Without grad, or nested
 * in another checkpoint's forward, this is plain fn(x).
 */
export function checkpoint(label: string, x: Tensor, fn: (x: Tensor) => Tensor): Tensor {
  if (gradDisabled > 0 || captured) return fn(x);
  const rt = x.rt;
  const needGrad = new Set<Tensor>();
  captured = needGrad;
  let y: Tensor;
  try {
    y = rt.tidy(() => fn(x));
  } finally {
    captured = null;
  }
  rt.flush();
  const inputs = [...needGrad];
  return record(`checkpoint:${label}`, y, inputs, (g) => {
    const gins = rt.tidy(() => {
      const again = fn(x);
      if (!again.requiresGrad) throw new EngineError(`checkpoint ${label}: the recomputed forward recorded nothing`);
      const got = propagate(again, g, needGrad);
      return inputs.map((t) => got.get(t) ?? null);
    });
    rt.flush();
    return gins;
  });
}

function accumulateLeaf(t: Tensor, g: Tensor): void {
  if (!t.grad) {
    const grad = empty(t.rt, t.shape, 'f32', `grad:${t.label}`).keep();
    fill0(grad);
    t.grad = grad;
  }
  t.rt.accumulate!(t.grad, g);
}

/** Zero (or drop) the gradients of `params`. */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) if (p.grad) fill0(p.grad);
}

/** A differentiable reshape: a view of the same storage whose gradient is viewed back. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const out = x.view(shape);
  return record('reshape', out, [x], (g) => [g.view(x.shape)]);
}
