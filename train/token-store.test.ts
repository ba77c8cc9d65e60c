// The token store and the line-by-line JSONL reader: rows read back in any order are the rows
// added, in memory and on disk (memory budget 0 / small / large), and the file is gone after
// close(); a dataset built on disk gives the same batches in the same data order as one in memory;
// lines that cross the reader's 1 MiB chunks, CRLF ends and a BOM read back as written; invalid
// UTF-8 and characters outside the vocabulary are errors naming file:line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../engine/errors.ts';
import { buildCharTokenizer } from '../model/tokenizer.ts';
import { TokenStore } from './token-store.ts';
import { jsonlLines } from './jsonl-lines.ts';
import { loadJsonlDataset, tokenizeExamples, type TokenizeOptions } from './data.ts';
import { DataOrder, makeBatch } from './data-order.ts';
import { fakeTokenizer } from './fake-tokenizer.test-util.ts';
import { taskExamples } from './tasks.ts';

const FC = { seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined, numRuns: 60 };
const dir = mkdtempSync(join(tmpdir(), 'token-store-'));
const storeDirs = () => readdirSync(tmpdir()).filter((n) => n.startsWith('dllm-wgpu-rows-')).length;
const opts = (o: Partial<TokenizeOptions> = {}): TokenizeOptions => ({
  seqLength: 8,
  format: 'auto',
  truncation: 'truncate',
  supervisePadding: true,
  useChatTemplate: false,
  skipMalformed: false,
  ...o,
});

function userError(fn: () => unknown, re: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, UserError, String(e));
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`expected a UserError matching ${re}`);
}

test('property: rows read back in any order are the rows added, in memory or on disk', () => {
  const before = storeDirs();
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 50 }),
      fc.constantFrom(0, 100, 1 << 20),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      (T, R, budget, seed) => {
        const store = new TokenStore(T, budget);
        const rows: { ids: Int32Array; p: Uint8Array; l: Uint8Array; n: number }[] = [];
        let x = seed;
        const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
        for (let r = 0; r < R; r++) {
          const row = {
            ids: Int32Array.from({ length: T }, () => next() % 126464),
            p: Uint8Array.from({ length: T }, () => next() % 2),
            l: Uint8Array.from({ length: T }, () => next() % 2),
            n: next() % 1000,
          };
          rows.push(row);
          store.add(row.ids, row.p, row.l, row.n);
        }
        assert.is(store.onDisk, R * 6 * T > budget, 'on disk exactly when over the budget');
        const order = Array.from({ length: R }, (_, i) => i).sort(() => (next() % 3) - 1);
        const ids = new Int32Array(2 * T),
          p = new Uint8Array(2 * T),
          l = new Uint8Array(2 * T);
        for (const r of order) {
          store.readRow(r, ids, p, l, 1); // into the second row of a (2, T) batch
          assert.equal(Array.from(ids.subarray(T)), Array.from(rows[r].ids), `ids of row ${r}`);
          assert.equal(Array.from(p.subarray(T)), Array.from(rows[r].p), `prompt mask of row ${r}`);
          assert.equal(Array.from(l.subarray(T)), Array.from(rows[r].l), `loss mask of row ${r}`);
          assert.is(store.answerLength[r], rows[r].n);
        }
        store.close();
      },
    ),
    FC,
  );
  assert.is(storeDirs(), before, 'every store folder removed on close');
});

test('a process killed with SIGKILL while its rows are on disk leaves no file or folder behind', async () => {
  const before = storeDirs();
  const store = new URL('./token-store.ts', import.meta.url).pathname;
  // The child stores rows on disk (budget 0), reads one back, says so, and waits to be killed.
  const code = `import { TokenStore } from ${JSON.stringify(store)};
    const s = new TokenStore(4, 0);
    for (let i = 0; i < 1000; i++) s.add(new Int32Array([i, 1, 2, 3]), new Uint8Array(4), new Uint8Array(4), 1);
    const ids = new Int32Array(4);
    s.readRow(999, ids, new Uint8Array(4), new Uint8Array(4), 0);
    console.log(s.onDisk && ids[0] === 999 ? 'ready' : 'wrong');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const said = await new Promise<string>((res) => child.stdout.once('data', (d: Buffer) => res(d.toString().trim())));
  assert.is(said, 'ready');
  child.kill('SIGKILL');
  await new Promise((res) => child.once('exit', res));
  assert.is(storeDirs(), before, 'no dllm-wgpu-rows-* folder left in the temporary directory');
});

test('a dataset on disk gives the same batches in the same data order as one in memory', () => {
  const tok = fakeTokenizer();
  const ex = taskExamples({ task: 'addition', split: 'train', splitSeed: 0, nHeldout: 50, nExamples: 300 });
  const inMemory = tokenizeExamples(ex, tok, opts({ seqLength: 16 }), 'addition');
  process.env.DLLM_WGPU_TOKEN_STORE_MEMORY = '0';
  const onDisk = tokenizeExamples(ex, tok, opts({ seqLength: 16 }), 'addition');
  delete process.env.DLLM_WGPU_TOKEN_STORE_MEMORY;
  assert.ok(onDisk.store.onDisk && !inMemory.store.onDisk);
  const a = new DataOrder(inMemory.nRows, 7),
    b = new DataOrder(onDisk.nRows, 7);
  for (let step = 0; step < 12; step++) {
    const x = makeBatch(inMemory, a.take(32)),
      y = makeBatch(onDisk, b.take(32));
    assert.equal(y, x, `batch ${step}`);
  }
  inMemory.store.close();
  onDisk.store.close();
});

test('lines across the 1 MiB read chunks, CRLF and a BOM read back as written', () => {
  const p = join(dir, 'lines.jsonl');
  const long = 'é'.repeat(700_000); // 1.4 MB of two-byte characters: crosses a chunk, maybe mid-character
  writeFileSync(p, '\uFEFFfirst\r\n' + long + '\n\nlast');
  const lines = [...jsonlLines(p)];
  assert.equal(
    lines.map((l) => l.line),
    [1, 2, 3, 4],
  );
  assert.is(lines[0].text, 'first');
  assert.ok(lines[1].text === long, 'the long line whole');
  assert.is(lines[2].text, '');
  assert.is(lines[3].text, 'last');
});

test('invalid UTF-8 and characters outside the vocabulary name file:line', () => {
  const bad = join(dir, 'bad-utf8.jsonl');
  writeFileSync(
    bad,
    Buffer.concat([Buffer.from('{"text": "ab"}\n{"text": "a'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]),
  );
  const tok = buildCharTokenizer('ab');
  userError(() => loadJsonlDataset(bad, tok, opts()), /bad-utf8\.jsonl:2: not valid UTF-8 \(byte 0xc3 at byte 12/);
  const unknown = join(dir, 'unknown.jsonl');
  writeFileSync(unknown, '{"text": "ab"}\n{"text": "ab"}\n{"text": "abz"}\n');
  userError(() => loadJsonlDataset(unknown, tok, opts()), /unknown\.jsonl:3: .*outside the vocabulary: "z"/);
});

test.run();
