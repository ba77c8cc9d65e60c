// WGSL as generated string modules (scripts/wgsl-modules.mjs): includes are appended with their
// start lines recorded, sourceLine maps any line of the expanded code back to its .wgsl file and
// line, a real compile error inside an included file is reported at that file:line, and every
// launcher's module is current with its .wgsl.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandWgsl, generateWgslModules, wgslModule } from '../scripts/wgsl-modules.mjs';
import { sourceLine } from '../engine/runtime.ts';
import { DeviceError } from '../engine/errors.ts';
import { closeDevice, gpuDevice } from './gpu.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A temporary package root with kernels/a/a.wgsl including ../b/b.wgsl; returns the root. */
function fixture(a: string, b: string): string {
  const root = mkdtempSync(join(tmpdir(), 'wgsl-'));
  mkdirSync(join(root, 'kernels', 'a'), { recursive: true });
  mkdirSync(join(root, 'kernels', 'b'), { recursive: true });
  writeFileSync(join(root, 'kernels', 'a', 'a.wgsl'), a);
  writeFileSync(join(root, 'kernels', 'b', 'b.wgsl'), b);
  return root;
}

const A = ['// a line 1', '// #include "../b/b.wgsl"', '@compute @workgroup_size(1)', 'fn main() { helper(); }', ''];
const B = ['// b line 1', '// b line 2', 'fn helper() {', '  let x: u32 = 1.5;', '}', ''];

test('an include is appended after the file, and every expanded line maps back to its file:line', () => {
  const root = fixture(A.join('\n'), B.join('\n'));
  try {
    const src = expandWgsl(join(root, 'kernels', 'a', 'a.wgsl'), root);
    assert.is(src.file, 'kernels/a/a.wgsl');
    assert.is(src.code, A.join('\n') + '\n' + B.join('\n'));
    assert.equal(src.includes, [{ start: A.length + 1, file: 'kernels/b/b.wgsl' }]);
    const lines = src.code.split('\n');
    lines.forEach((text, i) => {
      const where = sourceLine(src, i + 1);
      const [file, line] = [where.slice(0, where.lastIndexOf(':')), Number(where.slice(where.lastIndexOf(':') + 1))];
      const own = (file === 'kernels/a/a.wgsl' ? A : B)[line - 1];
      assert.is(own, text, `expanded line ${i + 1} maps to ${where}`);
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a missing include names the including file and the path', () => {
  const root = fixture(A.join('\n').replace('../b/b.wgsl', '../b/nope.wgsl'), '');
  try {
    assert.throws(
      () => expandWgsl(join(root, 'kernels', 'a', 'a.wgsl'), root),
      (e: Error) => e.message.includes('kernels/a/a.wgsl') && e.message.includes('../b/nope.wgsl'),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('generateWgslModules writes a module per .wgsl once, and again only when the .wgsl changes', () => {
  const root = fixture(A.join('\n'), B.join('\n'));
  try {
    assert.is(generateWgslModules(root).length, 2);
    assert.equal(generateWgslModules(root), []);
    writeFileSync(join(root, 'kernels', 'b', 'b.wgsl'), B.join('\n') + '// edited\n');
    // b changed, so a (which includes it) and b itself are rewritten
    assert.is(generateWgslModules(root).length, 2);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('every kernels/**/*.wgsl has its module, and each module is current', () => {
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
  const wgsl = walk(join(ROOT, 'kernels')).filter((p) => p.endsWith('.wgsl'));
  assert.ok(wgsl.length >= 15, `only ${wgsl.length} .wgsl files found`);
  for (const p of wgsl) assert.is(readFileSync(p + '.ts', 'utf8'), wgslModule(p), `${p}.ts is stale`);
});

test('a compile error inside an included file is reported at that file and line', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const root = fixture(A.join('\n'), B.join('\n'));
  try {
    const src = expandWgsl(join(root, 'kernels', 'a', 'a.wgsl'), root);
    rt.kernel(src, 'main');
    let err: unknown = null;
    try {
      await rt.sync();
    } catch (e) {
      err = e;
    }
    assert.instance(err, DeviceError);
    const msg = (err as Error).message;
    assert.ok(msg.includes('in kernels/a/a.wgsl failed'), msg);
    assert.ok(/kernels\/b\/b\.wgsl:4:\d+ error/.test(msg), msg); // `let x: u32 = 1.5;` is b.wgsl line 4
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.after(closeDevice);
test.run();
