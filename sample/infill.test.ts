// Infilling with scripted denoisers (no GPU): blocks of --block-length from the first token are
// settled left to right and blocks without masks are skipped, the steps split over the blocks that
// hold masks, ragged rows are right-padded, and classifier-free guidance's unconditional input
// masks the given text but keeps what has been filled in.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { infill } from './infill.ts';
import type { Denoiser, GenerateOptions } from './generate.ts';

const M = 2,
  EOS = 0;
const base: GenerateOptions = {
  steps: 4,
  genLength: 1,
  blockLength: 3,
  temperature: 0,
  remasking: 'low_confidence',
  cfgScale: 0,
  seed: 0,
  maskId: M,
  endIds: [EOS],
};

type Call = Parameters<Denoiser['predict']>[0];

/** Predicts token 100 + position everywhere, more confident at lower positions; records each call. */
function scripted() {
  const calls: { from: number; to: number; x: number[]; uncond?: number[]; keyMask?: number[] }[] = [];
  const den: Denoiser = {
    predict(a: Call) {
      calls.push({
        from: a.from,
        to: a.to,
        x: Array.from(a.x),
        uncond: a.uncond && Array.from(a.uncond),
        keyMask: a.keyMask && Array.from(a.keyMask),
      });
      const tokens = new Int32Array(a.B * a.L),
        conf = new Float32Array(a.B * a.L);
      for (let k = 0; k < a.B * a.L; k++) {
        tokens[k] = 100 + (k % a.L);
        conf[k] = 1 - (k % a.L) / 100;
      }
      return Promise.resolve({ tokens, conf });
    },
  };
  return { den, calls };
}

test('infill works block by block from the first token, skipping blocks with nothing to fill', async () => {
  const { den, calls } = scripted();
  //           block 0   | block 1 (no mask) | block 2
  const row = [5, M, M, 7, 8, 6, M, M, 9];
  const r = await infill(den, [row], EOS, 64, base);
  assert.equal(
    calls.map((c) => [c.from, c.to]),
    [
      [0, 3],
      [0, 3],
      [6, 9],
      [6, 9],
    ],
  );
  assert.is(r.nfe, 4);
  // the first block is settled (one token per step) before the second is touched
  assert.equal(calls[1].x, [5, 101, M, 7, 8, 6, M, M, 9]);
  assert.equal(calls[2].x, [5, 101, 102, 7, 8, 6, M, M, 9]);
  assert.equal(r.outputIds[0], [5, 101, 102, 7, 8, 6, 106, 107, 9]);
  // --steps is the total over the blocks that hold masks: 3 steps over 2 blocks are 2 + 1
  const few = scripted();
  const r3 = await infill(few.den, [row], EOS, 64, { ...base, steps: 3 });
  assert.equal(
    few.calls.map((c) => c.from),
    [0, 0, 6],
  );
  assert.equal(r3.outputIds[0], [5, 101, 102, 7, 8, 6, 106, 107, 9], 'the last block commits both in its one step');
});

test('ragged rows are right-padded: block k covers the same tokens of every row', async () => {
  const { den, calls } = scripted();
  const r = await infill(
    den,
    [
      [M, 4, 4, M],
      [M, 4],
    ],
    EOS,
    64,
    { ...base, blockLength: 2, steps: 2 },
  );
  assert.equal(calls[0].x, [M, 4, 4, M, M, 4, EOS, EOS]);
  assert.equal(calls[0].keyMask, [1, 1, 1, 1, 1, 1, 0, 0]);
  assert.equal(
    calls.map((c) => c.from),
    [0, 2],
  );
  assert.equal(r.outputIds, [
    [100, 4, 4, 103],
    [100, 4],
  ]);
});

test("classifier-free guidance in infill: LLaDA's unconditional input masks the given text, keeps the fills", async () => {
  const { den, calls } = scripted();
  const row = [5, M, M, 7];
  await infill(den, [row], EOS, 64, { ...base, blockLength: 4, steps: 2, cfgScale: 1.5 });
  assert.equal(calls[0].uncond, [M, M, M, M]);
  assert.equal(calls[1].x, [5, 101, M, 7]);
  assert.equal(calls[1].uncond, [M, 101, M, M], 'the token filled at step 1 stays; the given text is masked');
  const plain = scripted();
  await infill(plain.den, [row], EOS, 64, { ...base, blockLength: 4, steps: 2 });
  assert.is(plain.calls[0].uncond, undefined, 'no unconditional input without guidance');
});

test('bad infill options and prompts are clear errors', async () => {
  const { den } = scripted();
  const cases: [Partial<GenerateOptions>, number[][], RegExp][] = [
    [{ blockLength: 0 }, [[5, M]], /--block-length must be a positive integer, got 0/],
    [{ steps: 0 }, [[5, M]], /--steps must be a positive integer/],
    [
      {},
      [
        [5, M],
        [5, 6],
      ],
      /infill prompt 2 has no mask span/,
    ],
    [{}, [new Array(65).fill(M)], /65 tokens exceeds the model's max_sequence_length 64/],
  ];
  for (const [o, rows, re] of cases) {
    await infill(den, rows, EOS, 64, { ...base, ...o }).then(
      () => assert.unreachable(String(re)),
      (e: Error) => assert.match(e.message, re),
    );
  }
});

test.run();
