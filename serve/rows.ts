// What one choice has answered so far, from its generated region as denoising goes: a block counts
// once none of its positions is masked (blocks are committed left to right, so the answer grows by
// whole blocks); the answer ends at the first end token (EOS, end of turn) or at a stop string,
// and its ids (what usage counts) end with the text.
// The text handed out never takes back what it gave: a tail that could be the start of a stop
// string is held back until the next block decides it.
// Deliberately not here: HTTP (server.ts), the sampler (sample/).
import type { Tokenizer } from '../model/tokenizer.ts';

export type FinishReason = 'stop' | 'length';

export class RowText {
  /** Blocks committed so far. */
  blocks = 0;
  /** The answer's ids (up to the end token) over the committed blocks. */
  ids: number[] = [];
  text = '';
  finish: FinishReason | null = null;
  private sent = 0;

  constructor(
    private tok: Tokenizer | null,
    private endIds: number[],
    private maskId: number,
    private blockLength: number,
    private stop: string[],
  ) {}

  /** Each position of the generated region as text, null where still masked (the step events' canvas). */
  canvas(gen: Int32Array): (string | null)[] {
    return Array.from(gen, (t) =>
      t === this.maskId ? null : this.tok ? this.tok.decode([t], { skipSpecial: false }) : String(t),
    );
  }

  /** New text to hand out after a step (null: no new block committed), and whether the answer ended. */
  update(gen: Int32Array, last = false): string | null {
    if (this.finish) return null;
    let c = 0;
    while ((c + 1) * this.blockLength <= gen.length) {
      const blk = gen.subarray(c * this.blockLength, (c + 1) * this.blockLength);
      if (blk.includes(this.maskId)) break;
      c++;
    }
    if (c <= this.blocks && !last) return null;
    this.blocks = Math.max(c, this.blocks);
    const upto = Array.from(gen.subarray(0, c * this.blockLength));
    const end = upto.findIndex((t) => this.endIds.includes(t));
    this.ids = end < 0 ? upto : upto.slice(0, end);
    if (end >= 0) this.finish = 'stop';
    else if (c * this.blockLength === gen.length || last) this.finish = 'length';
    let text = this.decode(this.ids);
    let cut = -1;
    for (const s of this.stop) {
      const i = text.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      text = text.slice(0, cut);
      this.finish = 'stop';
      // OpenAI counts the tokens up to the stop string (usage.completion_tokens), not the ones after
      // it: keep the fewest leading ids whose text holds the answer (a token across the cut stays).
      let k = 0;
      while (k < this.ids.length && this.decode(this.ids.slice(0, k)).length < text.length) k++;
      this.ids = this.ids.slice(0, k);
    }
    this.text = text;
    const safe = this.finish ? text.length : text.length - this.heldBack(text);
    const delta = text.slice(this.sent, Math.max(safe, this.sent));
    this.sent = Math.max(safe, this.sent);
    return delta;
  }

  private decode(ids: number[]): string {
    return this.tok ? this.tok.decode(ids, { skipSpecial: true }) : ids.join(' ');
  }

  /** Length of the longest tail of `text` that is a proper prefix of a stop string. */
  private heldBack(text: string): number {
    let n = 0;
    for (const s of this.stop)
      for (let k = Math.min(s.length - 1, text.length); k > n; k--)
        if (text.endsWith(s.slice(0, k))) {
          n = k;
          break;
        }
    return n;
  }
}
