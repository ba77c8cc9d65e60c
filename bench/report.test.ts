// bench --report: a regenerated page carries over what was written by hand below KEEP_MARKER, and
// only that (the generated part is replaced).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEEP_MARKER, writeReport } from './report.ts';
import type { BenchResult } from './harness.ts';

const row = (name: string, ms: number): BenchResult => ({
  case: name,
  shape: '1x1',
  ms_median: ms,
  ms_min: ms,
  ms_max: ms,
  compile_ms: 0,
  verified: 'ok',
  peer: {},
});

test('the hand-written tail survives a rewrite; the generated table is replaced', () => {
  const dir = mkdtempSync(join(tmpdir(), 'report-'));
  const path = join(dir, 'perf.md');
  try {
    writeReport(path, [row('case one', 1.5)], { command: 'bench', adapter: 'test' });
    assert.not.ok(readFileSync(path, 'utf8').includes(KEEP_MARKER));
    writeFileSync(path, readFileSync(path, 'utf8') + `\n${KEEP_MARKER}\n\n## By hand\n\nkept text\n`);
    writeReport(path, [row('case two', 2.5)], { command: 'bench', adapter: 'test' });
    const page = readFileSync(path, 'utf8');
    assert.ok(page.includes('| case two |'));
    assert.not.ok(page.includes('case one'));
    assert.ok(page.endsWith(`${KEEP_MARKER}\n\n## By hand\n\nkept text\n`));
    assert.is(page.split(KEEP_MARKER).length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
