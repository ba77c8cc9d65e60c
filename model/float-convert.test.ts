// f32 -> f16 encoding (round to nearest even) against the exact decoder, over every binary16 bit
// pattern: each finite value encodes back to its own bits, and each midpoint between neighbours
// rounds to the even one (just above / below it rounds away / toward). Plus overflow and NaN.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { f16ToF32, f32ToF16, f32ToF16Bits } from './float-convert.ts';

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

test.run();
