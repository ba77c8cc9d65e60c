// The layering of the README's Architecture section, enforced: cli -> train/sample/serve -> model -> kernels -> engine
// (serve -> sample).
// train and sample never import each other, nothing imports cli/ or bench/, the CPU references
// import nothing from the engine, and no layer imports one above it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const ALLOWED: Record<string, string[]> = {
  engine: ['engine'],
  kernels: ['kernels', 'engine'],
  model: ['model', 'kernels', 'engine'],
  train: ['train', 'model', 'kernels', 'engine'],
  sample: ['sample', 'model', 'kernels', 'engine'],
  serve: ['serve', 'sample', 'model', 'kernels', 'engine'],
  bench: ['bench', 'serve', 'train', 'sample', 'model', 'kernels', 'engine'],
  cli: ['cli', 'bench', 'serve', 'train', 'sample', 'model', 'kernels', 'engine'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory()
      ? files(p)
      : p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.includes('test-util')
        ? [p]
        : [];
  });
}

test('imports follow the layer order (README, Architecture)', () => {
  const bad: string[] = [];
  let checked = 0;
  for (const layer of Object.keys(ALLOWED)) {
    for (const f of files(join(root, layer))) {
      const src = readFileSync(f, 'utf8');
      for (const m of src.matchAll(/(?:\bfrom\s+|\bimport\s*\(?\s*)'(\.[^']+)'/g)) {
        const target = relative(root, resolve(dirname(f), m[1])).split('/')[0];
        checked++;
        if (!ALLOWED[layer].includes(target)) bad.push(`${relative(root, f)} imports ${m[1]} (${layer} -> ${target})`);
        if (f.endsWith('.ref.ts') && target === 'engine')
          bad.push(`${relative(root, f)}: CPU references import nothing from the engine`);
      }
    }
  }
  assert.ok(checked > 100, `only ${checked} imports found: the scan is broken`);
  assert.equal(bad, []);
});

test.run();
