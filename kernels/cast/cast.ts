// f32 -> bf16 / f16 conversion on the GPU, rounding to nearest even (cast.wgsl): castHalf converts
// a whole tensor; castRowsInto writes the rows of an f32 tensor (B, Tq, ...) into a 16-bit one
// (B, L, ...) at row offset `start`, which is how fresh keys/values enter a 16-bit KV cache.
// No autograd: 16-bit tensors are frozen in this engine (nothing differentiates through a cast).
import { empty, isHalf, type HalfDType, type Tensor } from '../../engine/tensor.ts';
import { EngineError } from '../../engine/errors.ts';
import { Uniforms, checkDtype, fail, grid1d, sameShape } from '../util.ts';
import WGSL from './cast.wgsl.ts';

const WG = 64;

/** Write src (B, Tq, ...rest) f32, converted, into rows [start, start + Tq) of dst (B, L, ...rest). */
export function castRowsInto(dst: Tensor, src: Tensor, start: number): void {
  const op = 'castRowsInto';
  checkDtype(op, src, 'f32');
  dst.assertLive(op);
  if (!isHalf(dst.dtype)) fail(op, `dst must be bf16 or f16, got ${dst.dtype}`, dst);
  if (
    src.rank < 2 ||
    dst.rank !== src.rank ||
    dst.shape[0] !== src.shape[0] ||
    !sameShape(dst.shape.slice(2), src.shape.slice(2))
  )
    fail(op, 'src (B, Tq, ...) and dst (B, L, ...) must agree in every dim but the second', src, dst);
  const [B, L] = dst.shape;
  const Tq = src.shape[1];
  if (!Number.isInteger(start) || start < 0 || start + Tq > L)
    fail(op, `rows [${start}, ${start + Tq}) do not fit the ${L} rows of dst`, src, dst);
  const R = dst.size / Math.max(1, B * L);
  if (B * Tq * R === 0) return;
  const wpb = Math.floor((Tq * R) / 2) + 1;
  if (B * wpb >= 2 ** 32) throw new EngineError(`${op}: ${B * wpb} words is more than one dispatch can index`);
  const rt = dst.rt;
  const u = new Uniforms().u32(B).u32(L).u32(Tq).u32(R).u32(start).u32(wpb).bytes();
  rt.run(rt.kernel(WGSL, 'cast_rows', { WG, DTYPE: dst.dtype === 'bf16' ? 1 : 2 }), {
    uniforms: u,
    bindings: [src, dst],
    grid: grid1d(Math.ceil((B * wpb) / WG)),
  });
}

/** A new bf16 / f16 tensor holding x (f32) rounded to nearest even. */
export function castHalf(x: Tensor, dtype: HalfDType): Tensor {
  checkDtype('castHalf', x, 'f32');
  const out = empty(x.rt, x.shape, dtype, `cast_${dtype}`);
  castRowsInto(out.view([1, x.size]), x.view([1, x.size]), 0);
  return out;
}
