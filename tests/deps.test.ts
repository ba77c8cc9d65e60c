// What loads at run time, read from the sources: the library (index.ts) and every CLI command reach
// only packages in package.json's "dependencies" (an install without dev dependencies must load),
// and neither the library nor any command but `fuzz` reaches test code (property specs, their
// registry, arbitraries, the property checker) or the test-only packages (fast-check, uvu). `import type` is erased; everything else, dynamic imports included, loads
// (verbatimModuleSyntax keeps `import { type X }` as a module load).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { builtinModules } from 'node:module';

const root = resolve(new URL('..', import.meta.url).pathname);
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};
const TEST_CODE = /\.(spec|test)\.ts$|^kernels\/(registry|arb|check)\.ts$|^tests\//;
/** Packages only tests and `fuzz` use (fast-check is a dependency for fuzz's sake alone). */
const TEST_PACKAGES = ['fast-check', 'uvu'];

/** Every module `entry` loads, following static and dynamic imports (minus those `skip` names). */
function graph(entry: string, skip: (file: string) => boolean = () => false) {
  const files = new Map<string, string>(); // file -> the file that first imported it
  const packages = new Map<string, string>(); // package -> a file importing it
  const todo: [string, string][] = [[resolve(root, entry), '(entry)']];
  while (todo.length) {
    const [file, from] = todo.pop()!;
    if (files.has(file) || skip(relative(root, file))) continue;
    files.set(file, from);
    const src = readFileSync(file, 'utf8');
    const specs = [
      ...src.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^;]*?\bfrom\s+'([^']+)'/gms),
      ...src.matchAll(/^\s*import\s+'([^']+)'/gm),
      ...src.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
    ].map((m) => m[1]);
    for (const s of specs) {
      if (s.startsWith('.')) todo.push([resolve(dirname(file), s), relative(root, file)]);
      else if (!s.startsWith('node:') && !builtinModules.includes(s)) {
        const name = s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0];
        if (!packages.has(name)) packages.set(name, relative(root, file));
      }
    }
  }
  return { files: [...files].map(([f, from]) => [relative(root, f), from] as const), packages };
}

const runtimeDeps = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies ?? {})]);

test('the library loads only run-time dependencies and no test code', () => {
  const g = graph('index.ts');
  assert.ok(g.files.length > 40, `only ${g.files.length} modules found from index.ts: the scan is broken`);
  const tests = g.files.filter(([f]) => TEST_CODE.test(f)).map(([f, from]) => `${f} (imported by ${from})`);
  assert.equal(tests, [], 'test code reached from index.ts');
  const testPkgs = TEST_PACKAGES.filter((p) => g.packages.has(p)).map((p) => `${p} (imported by ${g.packages.get(p)})`);
  assert.equal(testPkgs, [], 'test-only packages reached from index.ts');
  const dev = [...g.packages].filter(([p]) => !runtimeDeps.has(p)).map(([p, f]) => `${p} (imported by ${f})`);
  assert.equal(dev, [], 'packages outside "dependencies" reached from index.ts');
});

test('every CLI command, fuzz included, loads only run-time dependencies', () => {
  // The CLI's optional peers (TF.js for `bench --peers`) are optionalDependencies; bench/ loads them.
  const g = graph('cli/main.ts');
  assert.ok(
    g.files.some(([f]) => f === 'kernels/registry.ts'),
    'fuzz should reach the spec registry (loaded on demand)',
  );
  const dev = [...g.packages].filter(([p]) => !runtimeDeps.has(p)).map(([p, f]) => `${p} (imported by ${f})`);
  assert.equal(dev, [], 'packages outside "dependencies" reached from the CLI');
  // Without the fuzz command, the CLI loads no test code either.
  const noFuzz = graph('cli/main.ts', (f) => f === 'cli/fuzz.ts');
  assert.equal(
    noFuzz.files.filter(([f]) => TEST_CODE.test(f)).map(([f, from]) => `${f} (imported by ${from})`),
    [],
  );
  assert.equal(
    TEST_PACKAGES.filter((p) => noFuzz.packages.has(p)),
    [],
  );
});

test.run();
