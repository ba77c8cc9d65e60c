// The GPU f32 -> bf16 / f16 cast against the checkpoint converters (model/float-convert.ts, which
// loading and saving use), bit for bit over a sweep of f32 patterns: every high half-word (all
// signs and exponents: zeros, subnormals, normals, infinities, NaNs with many payloads) with low
// halves at and around both formats' rounding ties. So a KV cache rounds exactly as a checkpoint
// conversion would. Misuse errors name the op.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { empty, tensor } from '../../engine/tensor.ts';
import { closeDevice, gpuDevice, throwsEngine } from '../../tests/gpu.ts';
import { f32ToBf16Bits, f32ToF16Bits } from '../../model/float-convert.ts';
import { castHalf, castRowsInto } from './cast.ts';

const LOWS = [0, 1, 0x0fff, 0x1000, 0x1001, 0x3000, 0x7fff, 0x8000, 0x8001, 0xffff];

function sweep(): Float32Array {
  const bits = new Uint32Array(65536 * LOWS.length);
  let i = 0;
  for (let h = 0; h < 65536; h++) for (const l of LOWS) bits[i++] = ((h << 16) | l) >>> 0;
  return new Float32Array(bits.buffer);
}

test('cast: bf16 and f16 bits equal model/float-convert.ts on every high half-word around the ties', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  const x = sweep();
  for (const kind of ['bf16', 'f16'] as const) {
    const got = (await rt.scope(async () => await castHalf(tensor(rt, x, [x.length]), kind).read())) as Uint16Array;
    const want = new Uint16Array(x.length);
    (kind === 'bf16' ? f32ToBf16Bits : f32ToF16Bits)(x, want);
    const u = new Uint32Array(x.buffer);
    const bad: string[] = [];
    for (let i = 0; i < x.length && bad.length < 5; i++)
      if (got[i] !== want[i])
        bad.push(`0x${u[i].toString(16)}: got 0x${got[i].toString(16)} want 0x${want[i].toString(16)}`);
    assert.equal(bad, [], `${kind}: ${bad.join('; ')}`);
  }
});

test('cast: misuse throws EngineError naming the op', async () => {
  const rt = await gpuDevice();
  if (!rt) return;
  await rt.scope(() => {
    const src = tensor(rt, new Float32Array(6), [1, 2, 3]);
    throwsEngine(() => castRowsInto(empty(rt, [1, 4, 3], 'f32'), src, 0), 'castRowsInto', 'bf16 or f16', 'f32');
    throwsEngine(() => castRowsInto(empty(rt, [1, 4, 2], 'bf16'), src, 0), 'castRowsInto', 'second', '[1, 4, 2]');
    throwsEngine(() => castRowsInto(empty(rt, [1, 4, 3], 'f16'), src, 3), 'castRowsInto', 'rows [3, 5)', '4 rows');
  });
});

test.after(closeDevice);
test.run();
