// f32 -> f16 encoding (round to nearest even) against the exact decoder, over every binary16 bit
// pattern: each finite value encodes back to its own bits, and each midpoint between neighbours
// rounds to the even one (just above / below it rounds away / toward). Plus overflow and NaN, and
// firstNonFinite (the load-time NaN/Inf scan) against the decoders on every 16-bit pattern.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bf16BitsToF32, f16ToF32, f32ToF16, f32ToF16Bits, firstNonFinite } from './float-convert.ts';

test('f16: every finite pattern encodes back to itself', () => {
  const vals = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) vals[h] = f16ToF32(h);
  const back = new Uint16Array(65536);
  f32ToF16Bits(vals, back);
  for (let h = 0; h < 65536; h++) {
    if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue; // NaN payloads: checked below
    assert.is(back[h], h, `pattern 0x${h.toString(16)} (${vals[h]}) came back as 0x${back[h].toString(16)}`);
  }
});

test('f16: midpoints round to even, their f32 neighbours to the nearer value', () => {
  // Positive finite patterns h and h + 1 (0x7bff is the largest finite); negatives mirror them.
  for (let h = 0; h < 0x7bff; h++) {
    const lo = f16ToF32(h),
      hi = f16ToF32(h + 1);
    const mid = (lo + hi) / 2; // exact in f32: one more mantissa bit than f16 needs
    assert.is(Math.fround(mid), mid);
    const even = h % 2 === 0 ? h : h + 1;
    assert.is(f32ToF16(mid), even, `midpoint of 0x${h.toString(16)} and 0x${(h + 1).toString(16)}`);
    assert.is(f32ToF16(-mid), even | 0x8000);
    const up = new Float32Array([mid]);
    const bits = new Uint32Array(up.buffer);
    bits[0] += 1; // the next f32 above the midpoint
    assert.is(f32ToF16(up[0]), h + 1);
    bits[0] -= 2; // the next f32 below it
    assert.is(f32ToF16(up[0]), h);
  }
});

test('f16: overflow is Inf, NaN stays NaN, tiny values flush to signed zero', () => {
  assert.is(f32ToF16(65504), 0x7bff);
  assert.is(f32ToF16(65519.99), 0x7bff);
  assert.is(f32ToF16(65520), 0x7c00); // the midpoint to the next (non-existent) value rounds to even: Inf
  assert.is(f32ToF16(1e30), 0x7c00);
  assert.is(f32ToF16(-Infinity), 0xfc00);
  const nan = f32ToF16(NaN);
  assert.ok((nan & 0x7c00) === 0x7c00 && (nan & 0x3ff) !== 0, `NaN became 0x${nan.toString(16)}`);
  assert.is(f32ToF16(2 ** -26), 0);
  assert.is(f32ToF16(-(2 ** -26)), 0x8000);
  assert.is(f32ToF16(2 ** -25), 0); // tie between 0 and the smallest subnormal: even is 0
  assert.is(f32ToF16(2 ** -25 * 1.0001), 1);
});

test('firstNonFinite finds exactly the NaN and infinite patterns, at their index, from unaligned bytes', () => {
  const decode = {
    f16: (h: number) => f16ToF32(h),
    bf16: (h: number) => {
      const out = new Float32Array(1);
      bf16BitsToF32(new Uint16Array([h]), out);
      return out[0];
    },
  };
  for (const kind of ['f16', 'bf16'] as const) {
    // Each pattern as the low half, the high half and the odd last value of the 32-bit words the
    // scan reads, 5 bytes into a buffer (an odd offset).
    const one = kind === 'f16' ? 0x3c00 : 0x3f80;
    const buf = new Uint8Array(5 + 8);
    for (const [len, at] of [
      [4, 2],
      [4, 3],
      [3, 2],
    ]) {
      for (let h = 0; h < 65536; h++) {
        for (let i = 0; i < len; i++) {
          const e = i === at ? h : one;
          buf[5 + 2 * i] = e & 0xff;
          buf[6 + 2 * i] = e >> 8;
        }
        const want = Number.isFinite(decode[kind](h)) ? -1 : at;
        const got = firstNonFinite(buf.subarray(5, 5 + 2 * len), kind);
        assert.is(got, want, `${kind} 0x${h.toString(16)} at ${at} of ${len}`);
      }
    }
  }
  const f = new Float32Array([1, -0, 3.4e38, 2, NaN, Infinity]);
  assert.is(firstNonFinite(f, 'f32'), 4);
  assert.is(firstNonFinite(f.subarray(5), 'f32'), 0);
  assert.is(firstNonFinite(f.subarray(0, 4), 'f32'), -1);
  const long = new Float32Array(10000).fill(-2.5); // past the first block of words the scan ORs
  long[9001] = -Infinity;
  assert.is(firstNonFinite(long, 'f32'), 9001);
});

test.run();
