// The live denoising view on a TTY: the generated region redrawn after every step, masked
// positions as a placeholder glyph, committed tokens as text, with a step counter.
import type { Tokenizer } from '../model/tokenizer.ts';

const MASK_GLYPH = '\u2591';

export function renderLive(
  s: { x: Int32Array; B: number; L: number; promptLen: number; nfe: number },
  tok: Tokenizer | null,
  maskId: number,
): void {
  const rows: string[] = [];
  for (let b = 0; b < Math.min(s.B, 4); b++) {
    const ids = Array.from(s.x.subarray(b * s.L + s.promptLen, (b + 1) * s.L));
    const text = ids
      .map((t) => (t === maskId ? MASK_GLYPH : tok ? tok.decode([t], { skipSpecial: true }) : `${t} `))
      .join('');
    rows.push(text.replace(/\n/g, ' ').slice(0, Math.max(20, (process.stderr.columns || 100) - 12)));
  }
  process.stderr.write(`\x1b[s\x1b[2K[step ${s.nfe}] ${rows.join(' | ')}\r`);
}
