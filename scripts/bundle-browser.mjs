// The in-browser mode's bundle: serve/in-browser.ts and everything it imports (engine, kernels with
// their WGSL string modules, model, sampler, @huggingface tokenizers) as one ES module for the
// browser, with esbuild (a dev dependency). `npm run build` writes it to dist/browser/dllm-wgpu.js,
// which the package ships; `serve` run from a source checkout bundles it in memory on the first
// request instead (serve/bundle.ts). platform 'browser' makes esbuild fail on any Node module
// (node:fs, the Dawn `webgpu` package) that reaches the bundle, so a Node-only import in the
// browser path breaks the build rather than the page.
// Usage: node scripts/bundle-browser.mjs [out.js]   (prints the size)
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateWgslModules } from './wgsl-modules.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BROWSER_ENTRY = 'serve/in-browser.ts';

/** The bundle's code (a string). Regenerates the WGSL modules first. */
export async function bundleBrowser(root = ROOT) {
  generateWgslModules(root);
  const { build } = await import('esbuild');
  const r = await build({
    absWorkingDir: root,
    entryPoints: [BROWSER_ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    outfile: 'dllm-wgpu.js',
    logLevel: 'silent',
    banner: { js: '// dllm-wgpu in-browser engine (bundled from serve/in-browser.ts by scripts/bundle-browser.mjs)' },
  });
  return r.outputFiles[0].text;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? join(ROOT, 'dist/browser/dllm-wgpu.js'));
  const code = await bundleBrowser();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, code);
  console.error(`bundle-browser: ${out} (${(code.length / 1024).toFixed(0)} KiB)`);
}
