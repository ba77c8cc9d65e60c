// Fuzz property for the safetensors reader: random byte corruptions, truncations, extensions,
// header-field edits and length-prefix edits of a valid small file never crash and never throw
// anything but a UserError; whatever loads has consistent sizes; corruptions confined to tensor
// data always load. FUZZ_RUNS scales the number of cases (default 200); FC_SEED replays one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../engine/errors.ts';
import { numelOf, parseSafetensorsHeader, SafetensorsFile } from './safetensors.ts';
import { writeSafetensors } from './safetensors-write.ts';
import { fcOptions, scratchDir } from './model.test-util.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const dir = scratchDir('fuzz');
const path = join(dir, 'victim.safetensors');

const source = join(dir, 'source.safetensors');
await writeSafetensors(source, [
  { name: 'w', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
  { name: 's', shape: [], data: Float32Array.of(7) },
  { name: 'e', shape: [0, 4], data: new Float32Array(0) },
  { name: 'v', shape: [5], data: Float32Array.of(-1, 0.5, 1e-8, 3e38, -0) },
]);
const valid = new Uint8Array(readFileSync(source));
const headerLen = Number(new DataView(valid.buffer).getBigUint64(0, true));
const headerJson = JSON.parse(new TextDecoder().decode(valid.subarray(8, 8 + headerLen))) as Record<
  string,
  Record<string, unknown>
>;

const hostile = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(
    -1,
    1.5,
    2 ** 53,
    2 ** 53 + 2,
    1e300,
    -0,
    'F32',
    'BF16',
    'I64',
    [],
    [0],
    [0, 0],
    [1e20],
    [2 ** 31, 2 ** 31],
    [-1, 4],
  ),
  fc.array(fc.integer({ min: -2, max: 64 }), { maxLength: 4 }),
);

type Mutation =
  | { kind: 'flip'; edits: [number, number][] }
  | { kind: 'truncate'; length: number }
  | { kind: 'extend'; extra: number[] }
  | { kind: 'field'; tensor: string; field: string; value: unknown; relength: boolean }
  | { kind: 'drop'; tensor: string; field: string }
  | { kind: 'prefix'; value: bigint };

const tensorNames = Object.keys(headerJson).filter((k) => k !== '__metadata__');
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    edits: fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 6,
    }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), length: fc.nat(valid.length - 1) }),
  fc.record({
    kind: fc.constant('extend' as const),
    extra: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 }),
  }),
  fc.record({
    kind: fc.constant('field' as const),
    tensor: fc.constantFrom(...tensorNames, 'new', '__metadata__'),
    field: fc.constantFrom('dtype', 'shape', 'data_offsets', 'x'),
    value: hostile,
    relength: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('drop' as const),
    tensor: fc.constantFrom(...tensorNames),
    field: fc.constantFrom('dtype', 'shape', 'data_offsets'),
  }),
  fc.record({ kind: fc.constant('prefix' as const), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
);

function withHeader(header: unknown, relength: boolean): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(header));
  const data = valid.subarray(8 + headerLen);
  const out = new Uint8Array(8 + body.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(relength ? body.length : headerLen), true);
  out.set(body.subarray(0, relength ? body.length : Math.min(body.length, headerLen)), 8);
  out.set(data, 8 + body.length);
  return out;
}

function apply(m: Mutation): Uint8Array {
  switch (m.kind) {
    case 'flip': {
      const b = valid.slice();
      for (const [i, v] of m.edits) b[i] = v;
      return b;
    }
    case 'truncate':
      return valid.slice(0, m.length);
    case 'extend':
      return Uint8Array.from([...valid, ...m.extra]);
    case 'field':
    case 'drop': {
      const h = structuredClone(headerJson);
      const entry = (h[m.tensor] ??= {});
      if (m.kind === 'drop') delete entry[m.field];
      else entry[m.field] = m.value;
      return withHeader(h, m.kind === 'drop' || m.relength);
    }
    case 'prefix': {
      const b = valid.slice();
      new DataView(b.buffer).setBigUint64(0, m.value, true);
      return b;
    }
  }
}

/** Open and read everything; returns normally or throws whatever the reader throws. */
function loadAll(): void {
  const f = SafetensorsFile.open(path);
  try {
    for (const t of f.tensors()) {
      const raw = f.readRaw(t.name);
      assert.is(raw.length, t.end - t.begin);
      if (['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)) assert.is(f.readTensor(t.name).length, numelOf(t.shape));
    }
  } finally {
    f.close();
  }
}

test('the unmodified file loads', () => {
  writeFileSync(path, valid);
  loadAll();
});

test(`property: corrupted files load or raise UserError, never anything else (${RUNS} runs)`, () => {
  fc.assert(
    fc.property(mutation, (m) => {
      writeFileSync(path, apply(m));
      const dataOnly = m.kind === 'flip' && m.edits.every(([i]) => i >= 8 + headerLen);
      try {
        loadAll();
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        assert.ok(e.message.includes(path), `error does not name the file: ${e.message}`);
        assert.ok(!dataOnly, `a data-only corruption was refused: ${e.message}`);
      }
    }),
    fcOptions(RUNS),
  );
});

test(`property: parseSafetensorsHeader on arbitrary JSON throws only UserError (${RUNS * 5} runs)`, () => {
  const entry = fc.record({ dtype: hostile, shape: hostile, data_offsets: hostile }, { requiredKeys: [] });
  const header = fc.oneof(fc.jsonValue(), fc.dictionary(fc.string(), fc.oneof(entry, fc.jsonValue())));
  fc.assert(
    fc.property(header, fc.nat(1 << 20), (h, dataLength) => {
      try {
        const r = parseSafetensorsHeader(new TextEncoder().encode(JSON.stringify(h) ?? ''), dataLength, 'f');
        for (const t of r.tensors) assert.ok(t.end <= dataLength && t.begin <= t.end);
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
      }
    }),
    fcOptions(RUNS * 5),
  );
});

test.run();
