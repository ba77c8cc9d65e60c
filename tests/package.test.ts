// The npm package as a user gets it: `npm pack`, installed into an empty project without dev
// dependencies, then `npx dllm-wgpu info`, a plain .mjs file that imports the library by name and
// runs a forward pass and a generation (equal to the same calls on the sources), and a TypeScript
// consumer compiled against the package's own .d.ts. To stay fast and offline, the tarball is
// unpacked into node_modules/dllm-wgpu and its run-time dependencies are linked from this
// checkout's node_modules (what `npm install <tarball> --omit=dev` would put there);
// DLLM_PACK_INSTALL=npm runs the real `npm install` instead (network, minutes).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeDevice, gpuDevice } from './gpu.ts';
import { createConfig } from '../model/config.ts';
import { createModel } from '../model/io.ts';
import { generate } from '../sample/generate.ts';
import { modelDenoiser } from '../sample/denoiser.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'dllm-pack-'));
const app = join(tmp, 'app');

function sh(cmd: string, args: string[], opts: SpawnSyncOptions = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: app, ...opts });
  const out = `${String(r.stdout ?? '')}${String(r.stderr ?? '')}`;
  assert.is(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status}:\n${out}`);
  return { stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Link node_modules/<name> to this checkout's copy (a run-time dependency of the package). */
function linkDep(name: string): void {
  const target = join(ROOT, 'node_modules', name);
  if (!existsSync(target)) return; // an optional dependency that is not installed here
  mkdirSync(dirname(join(app, 'node_modules', name)), { recursive: true });
  symlinkSync(target, join(app, 'node_modules', name), 'dir');
}

// The tiny model both sides run: fixed seed, so the packaged build must reproduce the sources.
const CONFIG = { d_model: 32, n_layers: 1, n_heads: 2, vocab_size: 16, max_sequence_length: 16 };
const IDS = [[3, 4, 5, 6, 7]];
const GEN_OPTS = {
  steps: 2,
  genLength: 4,
  blockLength: 4,
  temperature: 0,
  remasking: 'low_confidence' as const,
  cfgScale: 0,
  seed: 0,
  maskId: 2,
  endIds: [0],
};

const FORWARD_MJS = `
import { openDevice, createModel, createConfig, generate, modelDenoiser } from 'dllm-wgpu';
const device = await openDevice();
const model = createModel(createConfig(${JSON.stringify(CONFIG)}), { device, seed: 11 });
const logits = await model.logits(${JSON.stringify(IDS)});
const r = await generate(modelDenoiser(model), ${JSON.stringify(IDS)}, 0, 16, ${JSON.stringify(GEN_OPTS)});
process.stdout.write(JSON.stringify({ logits: Array.from(logits), outputIds: r.outputIds }));
model.dispose();
await device.destroy();
`;

const CONSUMER_TS = `
import { openDevice, createModel, createConfig, generate, type ModelConfig, type Device } from 'dllm-wgpu';
const config: ModelConfig = createConfig({ d_model: 32 });
const device: Device = await openDevice({});
const logits: Float32Array = await createModel(config, { device, seed: 1 }).logits([[1, 2]]);
export const n: number = logits.length + config.vocab_size;
export const g: typeof generate = generate;
// @ts-expect-error createConfig takes config fields, not a number: the types are real, not any
createConfig(64);
// @ts-expect-error the device has no such method
device.notAMethod();
`;

test('npm pack: the tarball holds dist/ and the bin, no sources or tests', () => {
  mkdirSync(app, { recursive: true });
  const r = sh('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: ROOT });
  const info = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  const files = info[0].files.map((f) => f.path);
  for (const want of [
    'package.json',
    'bin/dllm-wgpu.js',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/cli/main.js',
    'dist/browser/dllm-wgpu.js', // the in-browser engine `serve` hands the page
  ])
    assert.ok(files.includes(want), `${want} missing from the tarball`);
  assert.ok(files.includes('dist/kernels/matmul/matmul.wgsl.js'), 'WGSL string modules missing');
  const leaked = files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'));
  assert.equal(leaked, [], 'TypeScript sources in the tarball');
  assert.equal(
    files.filter((f) => /test|\.wgsl$/.test(f)),
    [],
    'tests or raw .wgsl in the tarball',
  );
  sh('npm', ['init', '-y']);
  const tarball = join(tmp, info[0].filename);
  if (process.env.DLLM_PACK_INSTALL === 'npm') {
    sh('npm', ['install', tarball, '--omit=dev', '--no-audit', '--no-fund']);
    return;
  }
  const pkgDir = join(app, 'node_modules', 'dllm-wgpu');
  mkdirSync(pkgDir, { recursive: true });
  sh('tar', ['-xzf', tarball, '-C', pkgDir, '--strip-components=1']);
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
  for (const name of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies ?? {})]) linkDep(name);
  mkdirSync(join(app, 'node_modules', '.bin'));
  symlinkSync('../dllm-wgpu/bin/dllm-wgpu.js', join(app, 'node_modules', '.bin', 'dllm-wgpu'));
});

test('npx dllm-wgpu info runs the compiled CLI from the installed package', () => {
  const r = sh('npx', ['--no', 'dllm-wgpu', 'info', '--json']);
  const info = JSON.parse(r.stdout) as { smoke?: string };
  assert.is(info.smoke, 'ok', `smoke dispatch: ${r.stdout.slice(0, 200)}`);
  assert.not.match(r.stderr, /warning: dist/);
});

test('a plain .mjs importing dllm-wgpu runs a forward pass and a generation equal to the sources', async () => {
  const dev = await gpuDevice();
  if (!dev) return;
  writeFileSync(join(app, 'forward.mjs'), FORWARD_MJS);
  const got = JSON.parse(sh(process.execPath, ['forward.mjs']).stdout) as { logits: number[]; outputIds: number[][] };
  const model = createModel(createConfig(CONFIG), { device: dev, seed: 11 });
  const want = Array.from(await model.logits(IDS));
  const r = await generate(modelDenoiser(model), IDS, 0, 16, GEN_OPTS);
  model.dispose();
  assert.is(got.logits.length, IDS[0].length * CONFIG.vocab_size);
  assert.equal(got.logits, want, 'logits differ from the same model run from the sources');
  assert.equal(got.outputIds, r.outputIds);
});

test('a TypeScript consumer compiles against the types the package ships', () => {
  linkDep('@types/node'); // the consumer's own dev dependency
  writeFileSync(join(app, 'consumer.ts'), CONSUMER_TS);
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: ['node'],
    },
    files: ['consumer.ts'],
  };
  // ES module consumer (top-level await), as `npm init -y` made it otherwise
  const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(app, 'package.json'), JSON.stringify({ ...pkg, type: 'module' }));
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig));
  sh(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.']);
});

test.after(async () => {
  await closeDevice();
  rmSync(tmp, { recursive: true, force: true });
});
test.run();
