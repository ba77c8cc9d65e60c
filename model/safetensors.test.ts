// Tests for safetensors.ts and safetensors-write.ts: F32 round trips bit for bit, BF16 rounding and
// F16 decoding against hand-computed bit patterns, the header layout the reference writes, every
// malformed-header case refused with a UserError naming the file (and tensor), atomic writes.
// Sharded directories: weights-dir.test.ts; random corruptions: safetensors-fuzz.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../engine/errors.ts';
import { SafetensorsFile } from './safetensors.ts';
import { writeSafetensors } from './safetensors-write.ts';
import { expectUserError, expectUserErrorAsync, fcOptions, scratchDir } from './model.test-util.ts';

const dir = scratchDir('safetensors');
let counter = 0;
const fresh = (tag = 't') => join(dir, `${tag}-${counter++}.safetensors`);

/** A file from a header (object or raw text) and data bytes; `len` overrides the length prefix. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), len?: bigint): string {
  const body =
    typeof header === 'string' ? new TextEncoder().encode(header) : new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(8 + body.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, len ?? BigInt(body.length), true);
  bytes.set(body, 8);
  bytes.set(data, 8 + body.length);
  const p = fresh('raw');
  writeFileSync(p, bytes);
  return p;
}

const u16 = (...xs: number[]) => new Uint8Array(Uint16Array.from(xs).buffer);
const bitsOf = (f: Float32Array) => Array.from(new Uint32Array(f.buffer, f.byteOffset, f.length));

test('property: F32 write -> read is bit-exact (NaN payloads, -0, subnormals, inf)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 40 }), { minLength: 1, maxLength: 4 }),
      async (arrays) => {
        const p = fresh();
        const tensors = arrays.map((a, i) => ({
          name: `t${i}`,
          shape: [a.length],
          data: new Float32Array(Uint32Array.from(a).buffer),
        }));
        await writeSafetensors(p, tensors);
        const f = SafetensorsFile.open(p);
        try {
          for (const t of tensors) assert.equal(bitsOf(f.readTensor(t.name)), bitsOf(t.data));
        } finally {
          f.close();
        }
      },
    ),
    fcOptions(50),
  );
});

test('header: length prefix, JSON padded with spaces to 8 bytes, keys in given order', async () => {
  const p = fresh();
  const n = await writeSafetensors(
    p,
    [
      { name: 'b', shape: [2, 1], data: Float32Array.of(1, 2) },
      { name: '10', shape: [], data: Float32Array.of(3) },
      { name: 'a', shape: [0], data: new Float32Array(0) },
    ],
    { metadata: { format: 'pt' } },
  );
  const bytes = readFileSync(p);
  assert.is(n, bytes.length);
  const len = Number(bytes.readBigUInt64LE(0));
  assert.is(len % 8, 0);
  const text = bytes.subarray(8, 8 + len).toString('utf8');
  assert.ok(
    text.startsWith('{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"10":'),
    text,
  );
  assert.match(text, /\} *$/);
  assert.is(bytes.length, 8 + len + 12);
  const f = SafetensorsFile.open(p);
  assert.equal(f.names(), ['b', '10', 'a']); // data-offset order
  assert.equal(f.info('10').shape, []);
  assert.equal(Array.from(f.readTensor('10')), [3]);
  assert.equal(f.metadata, { format: 'pt' });
  f.close();
});

// [f32 bits, expected bf16 bits], worked out by hand from round-to-nearest-even.
const BF16_CASES: [number, number][] = [
  [0x3f800000, 0x3f80], // 1.0 exact
  [0x3f808000, 0x3f80], // 1 + 2^-8: tie, lower half 0x3f80 is even -> down
  [0x3f818000, 0x3f82], // tie, 0x3f81 is odd -> up
  [0x3f80ffff, 0x3f81], // just above half -> up
  [0x3f807fff, 0x3f80], // just below half -> down
  [0xbf808001, 0xbf81], // negative, above half -> away from zero
  [0x7f7fffff, 0x7f80], // max finite f32 rounds to +inf
  [0x7f7f7fff, 0x7f7f], // ... but just below the tie stays finite
  [0x80000000, 0x8000], // -0
  [0x00000001, 0x0000], // smallest subnormal -> +0
  [0x00018000, 0x0002], // subnormal tie, odd -> up
  [0xff800000, 0xff80], // -inf
];

test('BF16: writer rounds to nearest even (hand-computed cases); reader widens exactly', async () => {
  const p = fresh();
  const data = new Float32Array(Uint32Array.from(BF16_CASES.map(([b]) => b)).buffer);
  await writeSafetensors(p, [{ name: 'x', shape: [BF16_CASES.length], data }], { dtype: 'BF16' });
  const f = SafetensorsFile.open(p);
  assert.is(f.info('x').dtype, 'BF16');
  const raw = f.readRaw('x');
  assert.equal(
    Array.from(new Uint16Array(raw.buffer, raw.byteOffset, BF16_CASES.length)),
    BF16_CASES.map(([, h]) => h),
  );
  assert.equal(
    bitsOf(f.readTensor('x')),
    BF16_CASES.map(([, h]) => (h << 16) >>> 0),
  );
  f.close();
});

test('BF16: NaN stays NaN', async () => {
  const p = fresh();
  await writeSafetensors(p, [{ name: 'n', shape: [2], data: Float32Array.of(NaN, -NaN) }], { dtype: 'BF16' });
  const f = SafetensorsFile.open(p);
  assert.ok(f.readTensor('n').every(Number.isNaN));
  f.close();
});

test('F16 decoding: normals, subnormals, infinities, NaN', () => {
  const cases: [number, number][] = [
    [0x0000, 0],
    [0x8000, -0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x0400, 2 ** -14], // smallest normal
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x8001, -(2 ** -24)],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  const header = { h: { dtype: 'F16', shape: [cases.length + 1], data_offsets: [0, 2 * (cases.length + 1)] } };
  const f = SafetensorsFile.open(rawFile(header, u16(...cases.map(([b]) => b), 0x7e00)));
  const got = f.readTensor('h');
  cases.forEach(([b, v], i) => assert.ok(Object.is(got[i], v), `0x${b.toString(16)} -> ${got[i]}, expected ${v}`));
  assert.ok(Number.isNaN(got[cases.length]));
  f.close();
});

test('F64 narrows to f32; integer dtypes refuse readTensor but give raw bytes', () => {
  const data = new Uint8Array(24);
  new Float64Array(data.buffer, 0, 2).set([0.5, -3.25]);
  new Int32Array(data.buffer, 16, 2).set([7, -1]);
  const header = {
    d: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
    i: { dtype: 'I32', shape: [2], data_offsets: [16, 24] },
  };
  const f = SafetensorsFile.open(rawFile(header, data));
  assert.equal(Array.from(f.readTensor('d')), [0.5, -3.25]);
  expectUserError(() => f.readTensor('i'), 'tensor "i"', 'I32');
  assert.equal(Array.from(new Int32Array(f.readRaw('i').buffer)), [7, -1]);
  expectUserError(() => f.readTensor('nope'), 'no tensor "nope"');
  f.close();
});

test('readTensor into a caller buffer; wrong length is an EngineError', async () => {
  const p = fresh();
  await writeSafetensors(p, [{ name: 'w', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) }]);
  const f = SafetensorsFile.open(p);
  const arena = new Float32Array(6);
  f.readTensor('w', arena.subarray(1, 5));
  assert.equal(Array.from(arena), [0, 1, 2, 3, 4, 0]);
  assert.throws(
    () => f.readTensor('w', new Float32Array(3)),
    (e: unknown) => e instanceof EngineError,
  );
  f.close();
});

test('BF16 tensors larger than one read chunk convert across chunk boundaries', async () => {
  const n = (16 << 20) / 2 + 1001; // one 16 MiB chunk of bf16 plus a remainder
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (i % 251) - 125; // small integers: exact in bf16
  const p = fresh();
  await writeSafetensors(p, [{ name: 'big', shape: [n], data }], { dtype: 'BF16' });
  const f = SafetensorsFile.open(p);
  const got = f.readTensor('big');
  f.close();
  let bad = -1;
  for (let i = 0; i < n && bad < 0; i++) if (got[i] !== data[i]) bad = i;
  assert.is(bad, -1, `first mismatch at ${bad}`);
});

const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
const headerCases: [string, unknown, string[]][] = [
  ['header not an object', [1, 2], ['must be a JSON object']],
  ['entry not an object', { w: 5 }, ['tensor "w"', 'must be an object']],
  ['missing dtype', { w: { shape: [2], data_offsets: [0, 8] } }, ['tensor "w"', '"dtype"']],
  ['missing shape', { w: { dtype: 'F32', data_offsets: [0, 8] } }, ['tensor "w"', '"shape"']],
  ['missing data_offsets', { w: { dtype: 'F32', shape: [2] } }, ['tensor "w"', '"data_offsets"']],
  ['unknown dtype', { w: { ...ok, dtype: 'F17' } }, ['tensor "w"', 'unknown dtype "F17"']],
  ['shape not a list', { w: { ...ok, shape: 2 } }, ['tensor "w"', 'shape 2']],
  ['negative dim', { w: { ...ok, shape: [-2] } }, ['tensor "w"', 'non-negative']],
  ['fractional dim', { w: { ...ok, shape: [1.5] } }, ['tensor "w"', 'non-negative integers']],
  ['unsafe dim', { w: { ...ok, shape: [2 ** 60] } }, ['tensor "w"', 'non-negative integers']],
  ['product overflows', { w: { ...ok, shape: [2 ** 52, 2 ** 52, 3] } }, ['tensor "w"', 'needs more than']],
  ['zero dim but bytes', { w: { ...ok, shape: [2 ** 52, 0] } }, ['tensor "w"', 'needs 0 bytes']],
  ['size mismatch', { w: { ...ok, shape: [3] } }, ['tensor "w"', 'needs 12 bytes', 'span 8']],
  [
    'offsets past the data',
    { w: { ...ok, shape: [4], data_offsets: [0, 16] } },
    ['tensor "w"', 'past the data section'],
  ],
  ['begin > end', { w: { ...ok, data_offsets: [8, 0] } }, ['tensor "w"', 'begin > end']],
  ['offsets not a pair', { w: { ...ok, data_offsets: [0] } }, ['tensor "w"', 'pair']],
  [
    'overlap',
    { a: { ...ok, shape: [2], data_offsets: [0, 8] }, b: { ...ok, shape: [1], data_offsets: [4, 8] } },
    ['"a"', '"b"', 'overlap'],
  ],
  ['metadata not strings', { __metadata__: { n: 1 }, w: ok }, ['__metadata__']],
];

for (const [what, header, needles] of headerCases) {
  test(`malformed header: ${what}`, () => {
    const p = rawFile(header, new Uint8Array(8));
    expectUserError(() => SafetensorsFile.open(p), p, 'invalid safetensors header', ...needles);
  });
}

test('malformed files: too short, bad length prefix, bad UTF-8, bad JSON', () => {
  const short = fresh();
  writeFileSync(short, new Uint8Array(5));
  expectUserError(() => SafetensorsFile.open(short), short, '5 bytes');
  const long = rawFile({ w: ok }, new Uint8Array(8), 10_000n);
  expectUserError(() => SafetensorsFile.open(long), long, 'length 10000', 'truncated');
  const huge = rawFile({ w: ok }, new Uint8Array(8), 2n ** 63n);
  expectUserError(() => SafetensorsFile.open(huge), huge, '100000000-byte limit');
  const utf = rawFile('{"ab":1}');
  const bytes = readFileSync(utf);
  bytes[10] = 0xff; // break the UTF-8 inside the key
  writeFileSync(utf, bytes);
  expectUserError(() => SafetensorsFile.open(utf), utf, 'UTF-8');
  const json = rawFile('{"w": {', new Uint8Array(8));
  expectUserError(() => SafetensorsFile.open(json), json, 'not valid JSON');
  expectUserError(() => SafetensorsFile.open(join(dir, 'absent.safetensors')), 'absent.safetensors', 'cannot open');
});

test('gaps between tensors are tolerated', () => {
  const data = new Uint8Array(20);
  new Float32Array(data.buffer).set([1, 2, 99, 3, 4]);
  const header = {
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'F32', shape: [2], data_offsets: [12, 20] },
  };
  const f = SafetensorsFile.open(rawFile(header, data));
  assert.equal(Array.from(f.readTensor('b')), [3, 4]);
  f.close();
});

test('writes are atomic: a failing tensor leaves the old file and no temporary', async () => {
  const d = scratchDir('atomic');
  const p = join(d, 'model.safetensors');
  await writeSafetensors(p, [{ name: 'w', shape: [1], data: Float32Array.of(1) }]);
  const before = readFileSync(p);
  const calls: string[] = [];
  const failing = [
    { name: 'a', shape: [1], data: () => (calls.push('a'), Float32Array.of(2)) },
    {
      name: 'b',
      shape: [1],
      data: (): Float32Array => {
        calls.push('b');
        throw new EngineError('readback failed');
      },
    },
    { name: 'c', shape: [1], data: () => (calls.push('c'), Float32Array.of(3)) },
  ];
  await writeSafetensors(p, failing).then(
    () => assert.unreachable('should have thrown'),
    (e: unknown) => assert.ok(e instanceof EngineError),
  );
  assert.equal(calls, ['a', 'b']); // lazy data is produced one tensor at a time, in order
  assert.equal(readFileSync(p), before);
  assert.equal(readdirSync(d), ['model.safetensors']);
  await expectUserErrorAsync(
    () => writeSafetensors(join(d, 'no/such/dir.safetensors'), []),
    'no/such/dir.safetensors',
    'cannot write',
  );
  assert.ok(!existsSync(join(d, 'no')));
});

test('writer refuses data of the wrong length and duplicate names', async () => {
  const p = fresh();
  const isEngine = (e: unknown) => assert.ok(e instanceof EngineError, String(e));
  await writeSafetensors(p, [{ name: 'w', shape: [3], data: new Float32Array(2) }]).then(
    () => assert.unreachable(),
    isEngine,
  );
  await writeSafetensors(p, [
    { name: 'w', shape: [1], data: new Float32Array(1) },
    { name: 'w', shape: [1], data: new Float32Array(1) },
  ]).then(() => assert.unreachable(), isEngine);
  assert.ok(!existsSync(p));
});

test.run();
