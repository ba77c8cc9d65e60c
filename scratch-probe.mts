import { globals } from 'webgpu';
Object.assign(globalThis, globals);
import { readFileSync, readdirSync } from 'node:fs';
import { openDevice } from './engine/device.ts';
import { tensor } from './engine/tensor.ts';
import { matmul } from './kernels/matmul/matmul.ts';
import { loadPeers } from './bench/peers.ts';
const threads = () => Object.fromEntries(readdirSync('/proc/self/task').map((t) => { const f = readFileSync(`/proc/self/task/${t}/stat`, 'utf8').split(') ')[1]!.split(' '); return [t, [readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim(), +f[11]! + +f[12]!]]; }));
const dev = await openDevice();
const n = 1024;
const a = tensor(dev, new Float32Array(n * n).fill(0.001), [n, n]);
const time = async (label: string) => {
  await matmul(a, a).read();
  const t0 = performance.now(); const th0 = threads();
  for (let i = 0; i < 5; i++) { const c = matmul(a, a); await dev.sync(); c.dispose(); }
  const ms = (performance.now() - t0) / 5; const th1 = threads();
  const busy = Object.entries(th1).map(([t, [nm, v]]) => [nm, t, ((v as number) - ((th0[t]?.[1] as number) ?? 0)) * 10]).filter((x) => (x[2] as number) > 20);
  console.log(label, ms.toFixed(1), 'ms per 1024^3;', JSON.stringify(busy));
};
await time('before peers');
if (process.env.PEERS) {
  const p = await loadPeers(() => {});
  await p.matmul([512, 512], [512, 512], 3, 2 * 512 ** 3);
  await time('after peers');
}
await time('again');
process.exit(0);
