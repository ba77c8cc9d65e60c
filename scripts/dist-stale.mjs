// Is dist/ older than the files it is built from? Used by scripts/build.mjs --if-stale and, in a
// repository checkout, by bin/dllm-wgpu.js to warn before running stale compiled code. Only
// node:fs and node:path, so the check costs the CLI's start-up a few milliseconds of stat calls.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** What dist/ is built from (scripts/build.mjs and tsconfig.build.json). */
export const BUILD_INPUTS = [
  'index.ts',
  'engine',
  'kernels',
  'model',
  'train',
  'sample',
  'serve',
  'cli',
  'bench',
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'scripts/build.mjs',
  'scripts/wgsl-modules.mjs',
  'scripts/bundle-browser.mjs',
];
/** Files that never reach dist/: editing them needs no rebuild. */
const NOT_BUILT = /\.test\.ts$|\.test-util\.ts$|\.bench\.ts$/;

function newestMtime(p) {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const n of readdirSync(p)) if (!NOT_BUILT.test(n)) m = Math.max(m, newestMtime(join(p, n)));
  return m;
}

/** True when dist/ is missing or older than any build input under `root`. */
export function distIsStale(root) {
  const stamp = join(root, 'dist', '.build-stamp');
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  return BUILD_INPUTS.some((p) => existsSync(join(root, p)) && newestMtime(join(root, p)) > built);
}
