// Micro-benchmark of the RMSNorm row layouts on the current adapter: forward, backward for x and
// backward for the weight, each per call (ms), median over rounds that interleave the layouts (this
// VM is shared and noisy: compare within a run). Each layout is checked against the CPU reference
// first. Not part of `npm test`. Run: node --import tsx kernels/rmsnorm/rmsnorm.bench.ts [rows:C ...]
import { openDevice, type Device } from '../../engine/device.ts';
import { tensor, type Tensor } from '../../engine/tensor.ts';
import { installHooks } from '../elementwise/elementwise.ts';
import { unavailable, variantsOf } from '../variants.ts';
import { rmsnorm, type RmsnormLayout } from './rmsnorm.ts';
import { rmsnormRef } from './rmsnorm.ref.ts';

// One device per layout, each opened with the kernel override that forces it.
const devices = new Map<RmsnormLayout, Device>();
for (const layout of variantsOf('rmsnorm')) {
  const dev = await openDevice({ kernels: { rmsnorm: layout } });
  if (unavailable(dev, 'rmsnorm', layout)) {
    await dev.destroy();
    continue;
  }
  installHooks(dev);
  devices.set(layout, dev);
}
const layouts = [...devices.keys()];
console.log(`adapter: ${devices.get(layouts[0])!.facts.description}`);
const args = process.argv.slice(2);
const shapes = (args.length ? args : ['1024:256', '2048:1024', '512:4096']).map((s) => s.split(':').map(Number));
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
const REPS = 10;
const ROUNDS = 7;

async function timeOne(x: Tensor, w: Tensor, what: 'fwd' | 'dx' | 'dw'): Promise<number> {
  const rt = x.rt;
  x.requiresGrad = what === 'dx';
  w.requiresGrad = what === 'dw';
  await rt.sync();
  const t0 = performance.now();
  for (let i = 0; i < REPS; i++) {
    await rt.scope(() => {
      const out = rmsnorm(x, w, 1e-5);
      if (what !== 'fwd') out.node!.backward(out);
    });
  }
  await rt.sync();
  return (performance.now() - t0) / REPS;
}

for (const [rows, c] of shapes) {
  const xs = Float32Array.from({ length: rows * c }, (_, i) => Math.sin(i * 0.37) * 2);
  const ws = Float32Array.from({ length: c }, (_, i) => 1 + Math.cos(i) * 0.1);
  const want = rmsnormRef(xs, ws, c, 1e-5);
  const inputs = new Map<RmsnormLayout, [Tensor, Tensor]>();
  for (const [layout, dev] of devices) {
    const x = tensor(dev, xs, [rows, c], 'f32', 'x');
    const w = tensor(dev, ws, [c], 'f32', 'w');
    inputs.set(layout, [x, w]);
    const y = await dev.scope(() => rmsnorm(x, w, 1e-5).read());
    let err = 0;
    for (let i = 0; i < y.length; i++) err = Math.max(err, Math.abs(y[i] - want[i]));
    if (err > 1e-4) throw new Error(`rmsnorm ${layout} ${rows}x${c}: max error ${err}`);
  }
  const t: Record<string, number[]> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const layout of layouts) {
      const [x, w] = inputs.get(layout)!;
      for (const what of ['fwd', 'dx', 'dw'] as const) (t[`${layout}.${what}`] ??= []).push(await timeOne(x, w, what));
    }
  }
  for (const layout of layouts) {
    const f = median(t[`${layout}.fwd`]);
    const dx = median(t[`${layout}.dx`]) - f;
    const dw = median(t[`${layout}.dw`]) - f;
    console.log(
      `rows ${rows} C ${c} ${layout.padEnd(10)}: fwd ${f.toFixed(2)} ms, bwd_x ${dx.toFixed(2)} ms, bwd_w ${dw.toFixed(2)} ms`,
    );
  }
  for (const [x, w] of inputs.values()) [x, w].forEach((t) => t.dispose());
}
for (const dev of devices.values()) await dev.destroy();
