// Micro-benchmark of the fused softmax cross-entropy on the current adapter: forward (loss) and
// backward (dlogits kernel alone) per call for each row layout (lanes per row), after checking each
// layout's loss against the CPU reference. Layouts are timed round-robin, several rounds, and the
// minimum and median per call are reported (robust to a busy machine). Every row is supervised
// (weight 1), the worst case: MDLM skips unmasked rows. Not part of `npm test`.
// Run: node --import tsx kernels/softmax-xent/softmax-xent.bench.ts
//   env SHAPES=2048x32000,1024x512  LANES=default,1,8,64,256  ROUNDS=5  REPS=<calls per timing>
// The 2048 x 32000 logits (262 MB) exceed lavapipe's 128 MiB maxStorageBufferBindingSize: there
// the bench runs the largest row count that fits and prints the time scaled to the asked rows.
import { openDevice } from '../../engine/device.ts';
import { tensor, type Tensor } from '../../engine/tensor.ts';
import { installHooks } from '../elementwise/elementwise.ts';
import { softmaxCrossEntropy } from './softmax-xent.ts';
import { xentRef } from './softmax-xent.ref.ts';

const rt = await openDevice();
installHooks(rt);
console.log(`adapter: ${rt.facts.description || rt.facts.vendor + ' ' + rt.facts.architecture}`);
const shapes = (process.env.SHAPES ?? '2048x32000,1024x512')
  .split(',')
  .map((s) => s.split('x').map(Number) as [number, number]);
const lanesList = (process.env.LANES ?? 'default,1,8,64,256')
  .split(',')
  .map((s) => (s === 'default' ? undefined : Number(s)));
const rounds = Number(process.env.ROUNDS ?? 5);
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];

for (const [want, v] of shapes) {
  const n = Math.min(want, Math.floor(rt.limits.maxStorageBufferBindingSize / (4 * v)));
  const xs = Float32Array.from({ length: n * v }, (_, i) => Math.sin(i * 0.37) * 8);
  const ts = Int32Array.from({ length: n }, (_, i) => (i * 7919) % v);
  const ws = new Float32Array(n).fill(1);
  const ref = xentRef(xs, ts, ws, n, v)[0];
  await rt.scope(async () => {
    const x = tensor(rt, xs, [n, v], 'f32', 'logits');
    const t = tensor(rt, ts, [n], 'i32', 'targets');
    const w = tensor(rt, ws, [n], 'f32', 'weights');
    const seed = tensor(rt, [1], [1], 'f32', 'seed');
    x.requiresGrad = true;
    for (const lanes of lanesList) {
      const got = (await softmaxCrossEntropy(x, t, w, { lanes }).read())[0];
      if (!(Math.abs(got - ref) <= 1e-5 * Math.abs(ref)))
        throw new Error(`xent ${n}x${v} lanes=${lanes}: ${got} vs reference ${ref}`);
    }
    const reps = Number(process.env.REPS ?? 0) || Math.max(2, Math.min(20, Math.round(1e8 / (n * v))));
    const fwd = lanesList.map(() => [] as number[]);
    const bwd = lanesList.map(() => [] as number[]);
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < lanesList.length; k++) {
        const opts = { lanes: lanesList[k] };
        const losses: Tensor[] = [];
        await rt.sync();
        let t0 = performance.now();
        for (let i = 0; i < reps; i++) losses.push(softmaxCrossEntropy(x, t, w, opts));
        await rt.sync();
        fwd[k].push((performance.now() - t0) / reps);
        t0 = performance.now();
        for (const loss of losses) {
          loss.node!.backward(seed).forEach((g) => g?.dispose()); // the dlogits kernel, no leaf accumulation
          rt.flush(); // the pool recycles a released buffer only after a submit
        }
        await rt.sync();
        bwd[k].push((performance.now() - t0) / reps);
        losses.forEach((l) => l.dispose());
      }
    }
    const scale = want / n;
    lanesList.forEach((lanes, k) => {
      const f = Math.min(...fwd[k]),
        b = Math.min(...bwd[k]);
      const extra = scale !== 1 ? `; x${scale.toFixed(2)} for ${want} rows: ~${((f + b) * scale).toFixed(1)} ms` : '';
      console.log(
        `${n}x${v} lanes ${String(lanes ?? 'default').padStart(7)}: fwd ${f.toFixed(2)} ms (median ${median(fwd[k]).toFixed(2)}), ` +
          `bwd ${b.toFixed(2)} ms (median ${median(bwd[k]).toFixed(2)}), fwd+bwd ${(f + b).toFixed(2)} ms${extra}`,
      );
    });
  });
}
await rt.destroy();
