#!/usr/bin/env node
// dllm-wgpu entry point: runs the compiled CLI in dist/ (plain JavaScript, no TypeScript loader).
// `npm run build` makes dist/ (scripts/setup.sh does it when it is stale); `npm run dev -- <command>`
// runs the CLI from the TypeScript sources instead.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

process.env.XDG_RUNTIME_DIR ??= '/tmp'; // lavapipe warns on every start without it
const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('error: dist/ is missing (a repository checkout): run `npm run build` first\n');
  process.exit(1);
}
// In a checkout, say when dist/ predates the sources: it would run code that is not what you edited.
const staleCheck = new URL('../scripts/dist-stale.mjs', import.meta.url);
if (existsSync(staleCheck)) {
  const { distIsStale } = await import(staleCheck.href);
  if (distIsStale(fileURLToPath(new URL('..', import.meta.url))))
    process.stderr.write('warning: dist/ is older than the sources: run `npm run build`\n');
}
await import(main.href);
