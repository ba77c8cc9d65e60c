// The package build: WGSL string modules (scripts/wgsl-modules.mjs), then `tsc -p tsconfig.build.json`
// (ES modules + .d.ts, relative `.ts` imports rewritten to `.js`) into a fresh folder that replaces
// dist/ only once it is complete, plus the non-TypeScript files the code opens at run time and the
// in-browser engine bundled by esbuild (scripts/bundle-browser.mjs) as dist/browser/dllm-wgpu.js.
// tsc rather than a bundler: one output file per source file keeps dist/ readable, stack traces
// name real modules, `import()` of a command stays lazy, and nothing new is needed to build.
// Options: --if-stale (skip when dist/ is newer than every source; scripts/setup.sh and prepack).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateWgslModules } from './wgsl-modules.mjs';
import { distIsStale } from './dist-stale.mjs';
import { bundleBrowser } from './bundle-browser.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Files read at run time next to the compiled code (bench/train.ts runs the PyTorch peer script). */
const ASSETS = ['bench/pytorch-step.py'];

async function build() {
  generateWgslModules(ROOT);
  const tmp = join(ROOT, 'dist.tmp');
  rmSync(tmp, { recursive: true, force: true });
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) {
    console.error('build: TypeScript is not installed (a dev dependency): run `npm install` first');
    process.exit(1);
  }
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', tmp], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    console.error('build: tsc failed; dist/ was left as it was');
    process.exit(1);
  }
  for (const a of ASSETS) cpSync(join(ROOT, a), join(tmp, a));
  // The in-browser mode's engine, one ES module that `serve` hands to the page at /dllm-wgpu.js.
  mkdirSync(join(tmp, 'browser'), { recursive: true });
  writeFileSync(join(tmp, 'browser', 'dllm-wgpu.js'), await bundleBrowser(ROOT));
  writeFileSync(join(tmp, '.build-stamp'), new Date().toISOString() + '\n');
  rmSync(join(ROOT, 'dist'), { recursive: true, force: true });
  renameSync(tmp, join(ROOT, 'dist'));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--if-stale') && !distIsStale(ROOT)) {
    generateWgslModules(ROOT); // cheap, and keeps `npm test` from running stale shaders
  } else {
    const t0 = Date.now();
    console.error('build: compiling TypeScript into dist/');
    await build();
    console.error(`build: dist/ ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
}
