// The generic kernel property suite: every spec in kernels/registry.ts, GPU vs CPU reference,
// forward and backward, plus finite differences of the reference. fast-check prints the seed and
// path of any failure; replay with FC_SEED=<seed> FC_PATH=<path>. A spec that forces a kernel
// variant runs on a device opened with that override, so GPU-only variants run on CPU adapters too
// (and the reverse); one the adapter cannot run is skipped with a SKIP line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ALL_SPECS } from './registry.ts';
import { checkCase } from './check.ts';
import { checkProperty, closeDevice, deviceFor } from '../tests/gpu.ts';

const RUNS = 12;
const only = process.env.KERNEL;

for (const spec of ALL_SPECS) {
  if (only && !spec.name.startsWith(only)) continue;
  test(`${spec.name}: GPU matches CPU reference (forward, backward, finite differences)`, async () => {
    const rt = await deviceFor(spec.kernels);
    if (!rt) return;
    await checkProperty(
      spec.name,
      spec.arb,
      (c) => checkCase(rt, spec, c),
      RUNS,
      `KERNEL=${spec.name} node --import tsx kernels/ops.test.ts`,
    );
  });
}

test('every kernels/<op>/ folder has a .wgsl, a .ref.ts, a launcher, a .spec.ts and a registered spec', () => {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  const kernels = new Set(ALL_SPECS.map((s) => s.kernel));
  for (const name of readdirSync(dir)) {
    if (!statSync(dir + name).isDirectory()) continue;
    for (const ext of ['.wgsl', '.ts', '.ref.ts', '.spec.ts']) {
      assert.ok(existsSync(`${dir}${name}/${name}${ext}`), `kernels/${name}/${name}${ext} is missing`);
    }
    assert.ok(kernels.has(name), `kernels/${name} has no spec in kernels/registry.ts`);
  }
});

test.after(closeDevice);
test.run();
