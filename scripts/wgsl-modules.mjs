// Turns every kernels/**/*.wgsl into a generated string module beside it (`x.wgsl` -> `x.wgsl.ts`,
// gitignored), so launchers `import` their shader source and the same code runs from the sources
// (tsx), from dist/ (tsc compiles the modules with the rest) and in a browser bundle: no file reads
// at run time. The .wgsl files stay the source. `// #include "file.wgsl"` lines (paths relative to
// the including file) are resolved here: the included text is appended after the file's own, so
// its line numbers stay true, and `includes` records where each appended file starts so compile
// errors map back to file:line (engine/runtime.ts sourceLine).
// Plain JavaScript with no dependencies: scripts/setup.sh, bin/run-tests.js and the build run it
// before TypeScript is involved. CLI: `node scripts/wgsl-modules.mjs` (prints what it rewrote).
import { readdirSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const INCLUDE = /^\/\/ #include "([^"]+)"\s*$/gm;

/** The expanded source of the .wgsl file at `path`, with file names relative to `root`. */
export function expandWgsl(path, root = ROOT) {
  const name = (p) => relative(root, p).split(sep).join('/');
  const own = readFileSync(path, 'utf8');
  let code = own;
  let line = own.split('\n').length;
  const includes = [];
  for (const m of own.matchAll(INCLUDE)) {
    const incPath = resolve(dirname(path), m[1]);
    let inc;
    try {
      inc = readFileSync(incPath, 'utf8');
    } catch {
      throw new Error(`${name(path)}: cannot read included file ${m[1]} (${name(incPath)})`);
    }
    if (inc.match(INCLUDE)) throw new Error(`${name(incPath)}: included files cannot include others`);
    code += '\n' + inc;
    includes.push({ start: line + 1, file: name(incPath) });
    line += inc.split('\n').length;
  }
  return { file: name(path), code, includes };
}

/** The text of the generated module for `path`. */
export function wgslModule(path, root = ROOT) {
  const src = expandWgsl(path, root);
  return (
    `// Generated from ${src.file} by scripts/wgsl-modules.mjs: edit the .wgsl, not this file.\n` +
    'export default {\n' +
    `  file: ${JSON.stringify(src.file)},\n` +
    `  includes: ${JSON.stringify(src.includes)},\n` +
    `  code: ${JSON.stringify(src.code)},\n` +
    '};\n'
  );
}

function wgslFiles(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return wgslFiles(p);
    return n.endsWith('.wgsl') ? [p] : [];
  });
}

/** (Re)write every generated module whose text changed; returns the paths written. */
export function generateWgslModules(root = ROOT) {
  const written = [];
  for (const path of wgslFiles(join(root, 'kernels'))) {
    const out = path + '.ts';
    const text = wgslModule(path, root);
    let old = null;
    try {
      old = readFileSync(out, 'utf8');
    } catch {}
    if (old === text) continue;
    writeFileSync(out + '.tmp', text);
    renameSync(out + '.tmp', out);
    written.push(out);
  }
  return written;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    for (const p of generateWgslModules()) console.error(`wgsl: wrote ${relative(ROOT, p)}`);
  } catch (e) {
    console.error(`wgsl: ${e.message}`);
    process.exit(1);
  }
}
