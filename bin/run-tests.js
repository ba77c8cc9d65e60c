#!/usr/bin/env node
// Runs every *.test.ts file under the source folders (engine, kernels, ..., bench, tests) with uvu, one process per file so a
// crash names its file. Prints a closing "N passed, N failed" line. Options: a substring filter.
// It first regenerates the WGSL string modules the kernels import, so an edited .wgsl is what runs.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateWgslModules } from '../scripts/wgsl-modules.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const filter = process.argv[2] ?? '';
generateWgslModules(root);
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(relative(root, p));
  }
}
for (const d of ['engine', 'kernels', 'model', 'train', 'sample', 'serve', 'cli', 'bench', 'tests']) {
  try {
    walk(join(root, d));
  } catch {}
}
files.sort();
let passed = 0,
  failed = 0,
  skipped = 0;
const failures = [];
const t0 = Date.now();
for (const f of files.filter((f) => f.includes(filter))) {
  const t = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', f], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  const p = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const s = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const ok = r.status === 0;
  const fl = ok ? total - p - s : Math.max(1, total - p - s);
  passed += p;
  skipped += s;
  failed += fl;
  process.stdout.write(
    `${ok ? 'ok  ' : 'FAIL'} ${f} (${p} passed${s ? `, ${s} skipped` : ''}${fl ? `, ${fl} failed` : ''}, ${((Date.now() - t) / 1000).toFixed(1)} s)\n`,
  );
  if (!ok) {
    failures.push(f);
    process.stdout.write(
      out
        .split('\n')
        .map((l) => '    ' + l)
        .join('\n') + '\n',
    );
  }
}
process.stdout.write(`\n${files.length} files in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
if (failures.length) process.stdout.write(`failed files: ${failures.join(', ')}\n`);
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed || failures.length ? 1 : 0);
