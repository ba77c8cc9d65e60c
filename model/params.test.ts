// ParamStore layout: f32 parameters split over arena chunks under a (here tiny) size limit, each
// parameter a view at its global offset, AdamW over optimizerRanges equal to one update of the
// whole flat arena (decay for matrices only), and 16-bit parameters in buffers of their own that
// refuse gradients.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeDevice, gpuDevice, seededFloats, throwsEngine } from '../tests/gpu.ts';
import { allclose } from '../kernels/check.ts';
import { adamwStep } from '../kernels/adamw/adamw.ts';
import { adamwRef } from '../kernels/adamw/adamw.ref.ts';
import { ParamStore, type ParamSpec } from './params.ts';

const SPECS: ParamSpec[] = [
  { name: 'norm.a', shape: [9] },
  { name: 'w.a', shape: [5, 7] },
  { name: 'w.big', shape: [3, 64] }, // 192 floats: over the 128-float chunk limit, a chunk of its own
  { name: 'w.half', shape: [4, 6], dtype: 'bf16' },
  { name: 'w.b', shape: [2, 30] },
  { name: 'norm.b', shape: [70] },
];

test('f32 parameters over several arena chunks: views, host copies and AdamW ranges', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const align = Math.max(64, rt.limits.minStorageBufferOffsetAlignment / 4);
  const P = new ParamStore(rt, SPECS, { maxChunkBytes: 2 * align * 4 });
  try {
    assert.ok(P.chunks.length >= 3, `${P.chunks.length} chunks`);
    P.chunks.forEach((c, i) => {
      assert.is(c.start, i === 0 ? 0 : P.chunks[i - 1].end, 'chunks are contiguous');
      const single = [...P.offsets.values()].filter((o) => o >= c.start && o < c.end).length === 1;
      assert.ok(c.end - c.start <= 2 * align || single, `chunk ${i} holds ${c.end - c.start} floats`);
    });
    assert.is(P.chunks.at(-1)!.end, P.totalFloats);
    assert.not.ok(P.offsets.has('w.half'));
    assert.is(P.get('w.half').dtype, 'bf16');
    // Matrices come first (decayed), then vectors.
    assert.ok(P.offsets.get('w.b')! < P.decayFloats && P.offsets.get('norm.a')! >= P.decayFloats);

    const flat = seededFloats(P.totalFloats, 3);
    P.writeArena('param', flat);
    for (const s of SPECS) {
      if (s.dtype) continue;
      const off = P.offsets.get(s.name)!;
      const n = s.shape.reduce((a, d) => a * d, 1);
      assert.equal(Array.from(await P.get(s.name).read()), Array.from(flat.subarray(off, off + n)), s.name);
    }
    assert.equal(Array.from(await P.readArena('param')), Array.from(flat), 'readArena gathers the chunks');

    throwsEngine(() => P.enableGrad(), 'w.half', 'bf16');
  } finally {
    P.dispose();
  }
});

test('AdamW over optimizerRanges of a chunked arena equals one update of the flat arena', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const align = Math.max(64, rt.limits.minStorageBufferOffsetAlignment / 4);
  const P = new ParamStore(
    rt,
    SPECS.filter((s) => !s.dtype),
    { maxChunkBytes: 2 * align * 4 },
  );
  try {
    P.enableGrad();
    const n = P.totalFloats;
    const [p0, g0, m0, v0] = [1, 2, 3, 4].map((s) => seededFloats(n, s));
    const v0pos = v0.map(Math.abs);
    P.writeArena('param', p0);
    P.writeArena('m', m0);
    P.writeArena('v', v0pos);
    P.gradChunks().forEach((g, i) => g.write(g0.subarray(P.chunks[i].start, P.chunks[i].end)));
    const opts = { lr: 0.01, beta1: 0.9, beta2: 0.98, eps: 1e-8, step: 3 };
    const ranges = P.optimizerRanges();
    assert.ok(ranges.length > P.chunks.length, 'one chunk straddles the decay boundary');
    for (const r of ranges) adamwStep(r.p, r.g, r.m, r.v, { ...opts, weightDecay: r.decay ? 0.1 : 0 });
    const got = await P.readArena('param');
    ranges.forEach((r) => [r.p, r.g, r.m, r.v].forEach((t) => t.dispose()));
    const d = P.decayFloats;
    const decayed = adamwRef(p0.subarray(0, d), g0.subarray(0, d), m0.subarray(0, d), v0pos.subarray(0, d), {
      ...opts,
      weightDecay: 0.1,
    });
    const plain = adamwRef(p0.subarray(d), g0.subarray(d), m0.subarray(d), v0pos.subarray(d), {
      ...opts,
      weightDecay: 0,
    });
    const want = new Float64Array(n);
    want.set(decayed.subarray(0, d), 0);
    want.set(plain.subarray(0, n - d), d);
    allclose(got, want, { atol: 1e-6, rtol: 1e-5 }, 'parameters after AdamW');
  } finally {
    P.dispose();
  }
});

test.after(closeDevice);
test.run();
