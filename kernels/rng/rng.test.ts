// Example tests for the GPU Philox beyond the property spec: argument errors name the op, the
// Random123 known answer for counter 0 / key 0 through the GPU, a large draw bit-exact with the
// reference (many workgroups, a folded grid is not needed at this size), uniforms consistent with
// the u32 draws, and n = 0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuDevice, closeDevice } from '../../tests/gpu.ts';
import { philoxU32, philoxUniform, philoxUniformRows, streamOf, STREAM_TAG } from './rng.ts';
import * as philox from './philox.ts';

test('bad arguments throw EngineErrors that name the op', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  assert.throws(() => philoxU32(rt, -1, 0, 4), /philoxU32: philox seed must be an integer in \[0, 2\^53\), got -1/);
  assert.throws(() => philoxUniform(rt, 0, [1, 2 ** 32], 4), /philoxUniform: philox stream words must be u32/);
  assert.throws(() => philoxUniform(rt, 0, 0, 2.5), /philoxUniform: count must be an integer >= 0, got 2.5/);
  assert.throws(() => philoxU32(rt, 0, 0, 4, -4), /philoxU32: offset must be an integer >= 0/);
  assert.throws(
    () => philoxUniformRows(rt, 0, [0, 0xffffffff], 2, 4),
    /philoxUniformRows: 2 rows from stream word 4294967295 overflow a u32/,
  );
  assert.throws(() => philoxUniformRows(rt, 0, [0, 0], 0, 4), /philoxUniformRows: rows must be an integer >= 1, got 0/);
});

test('Random123 known answer (counter 0, key 0) and a large draw, bit-exact', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(async () => {
    assert.equal(Array.from(await philoxU32(rt, 0, 0, 4).read()), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    const n = 200_003;
    const stream = streamOf(STREAM_TAG.mdlmMask, 12345, 7);
    const got = await philoxU32(rt, 2 ** 40 + 17, stream, n, 4 * (2 ** 32 - 1000) + 3).read();
    const want = philox.philoxU32(2 ** 40 + 17, stream, n, 4 * (2 ** 32 - 1000) + 3);
    let bad = 0;
    for (let i = 0; i < n; i++) if (got[i] !== want[i]) bad++;
    assert.is(bad, 0, `${bad} of ${n} draws differ`);
  });
});

test('uniforms are the u32 draws mapped by (u >>> 8) * 2^-24; rows are per-sample streams; n = 0', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(async () => {
    const u = await philoxU32(rt, 9, 77, 1001, 5).read();
    const f = await philoxUniform(rt, 9, 77, 1001, 5).read();
    for (let i = 0; i < u.length; i++) assert.is(f[i], philox.uniformFloat(u[i]));
    const rows = await philoxUniformRows(rt, 3, streamOf(STREAM_TAG.mdlmMask, 40, 10), 3, 37, 2).read();
    for (let q = 0; q < 3; q++) {
      const one = await philoxUniform(rt, 3, streamOf(STREAM_TAG.mdlmMask, 40, 10 + q), 37, 2).read();
      assert.equal(Array.from(rows.slice(q * 37, (q + 1) * 37)), Array.from(one), `row ${q}`);
    }
    const e = philoxUniform(rt, 1, 1, 0);
    assert.equal(e.shape, [0]);
    assert.is(e.dtype, 'f32');
  });
});

test.after(closeDevice);
test.run();
