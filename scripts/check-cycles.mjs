// Import-cycle check for `npm run lint`: walks the relative imports of every .ts source in the
// repository (static `import`/`export ... from`, side-effect `import '...'` and dynamic `import('...')`)
// and exits 1 with the cycle's path if a module reaches itself. `import type` lines are skipped:
// TypeScript erases them, so they cannot make a module see another half-initialised at run time.
// Usage: node scripts/check-cycles.mjs [root]   (root defaults to the repository)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SKIP = new Set(['node_modules', 'dist', 'dist.tmp', 'runs', '.git']);
const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));

function sources(dir) {
  return readdirSync(dir).flatMap((n) => {
    if (SKIP.has(n) || n.startsWith('.')) return [];
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

// A statement's specifier: `from '...'` or `import '...'`, unless the statement
// starts with `import type` / `export type` (a whole-statement type import; erased at run time).
const SPEC = /^\s*(?:import|export)\s+(type\s+)?(?:[^;'"]*?\bfrom\s*)?['"](\.[^'"]+)['"]/gm;
const DYNAMIC = /\bimport\s*\(\s*['"](\.[^'"]+)['"]\s*\)/g;

function importsOf(file) {
  const src = readFileSync(file, 'utf8');
  const specs = new Set();
  for (const m of src.matchAll(SPEC)) if (!m[1]) specs.add(m[2]);
  for (const m of src.matchAll(DYNAMIC)) specs.add(m[1]);
  const out = [];
  for (const s of specs) {
    const target = resolve(dirname(file), s);
    if (target.endsWith('.ts') && existsSync(target)) out.push(target);
  }
  return out;
}

const files = sources(root);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const edges = [...graph.values()].reduce((n, v) => n + v.length, 0);
if (files.length < 50 || edges < 100) {
  console.error(`check-cycles: only ${files.length} files and ${edges} imports under ${root}: the scan is broken`);
  process.exit(1);
}

// Depth-first search, iterative (deep import chains must not hit the call-stack limit).
const state = new Map(); // undefined: unvisited, 1: on the current path, 2: done
for (const start of files) {
  if (state.get(start)) continue;
  const stack = [{ file: start, next: 0 }];
  state.set(start, 1);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const deps = graph.get(top.file) ?? [];
    if (top.next >= deps.length) {
      state.set(top.file, 2);
      stack.pop();
      continue;
    }
    const dep = deps[top.next++];
    if (state.get(dep) === 1) {
      const path = stack.slice(stack.findIndex((s) => s.file === dep)).map((s) => s.file);
      const shown = [...path, dep].map((f) => relative(root, f)).join(' -> ');
      console.error(`check-cycles: import cycle: ${shown}`);
      console.error('check-cycles: break it by moving what both sides need into a module lower in the chain');
      process.exit(1);
    }
    if (!state.get(dep)) {
      state.set(dep, 1);
      stack.push({ file: dep, next: 0 });
    }
  }
}
console.log(`check-cycles: ${files.length} files, ${edges} relative imports, no cycle`);
