// A JSONL file read line by line through a 1 MiB buffer, never as one string (V8 caps a string
// near 512 MiB, so a whole-file read bounded datasets). Each line is decoded as strict UTF-8:
// invalid bytes are an error naming file:line and the byte's column, not U+FFFD in the data. A
// UTF-8 byte-order mark opening the file is dropped; a trailing \r (CRLF files) too.
// Deliberately not here: JSON parsing or records (train/data.ts).
import { closeSync, openSync, readSync } from 'node:fs';
import { UserError } from '../engine/errors.ts';

const CHUNK = 1 << 20;

/** Offset of the first byte that starts no valid UTF-8 sequence (RFC 3629 section 4), or 0. */
function firstInvalid(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const c = b[i];
    const n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (i + k >= b.length || (b[i + k] & 0xc0) !== 0x80) return i;
    const c1 = b[i + 1];
    // overlong three- and four-byte forms, UTF-16 surrogates, code points past U+10FFFF
    if (
      (c === 0xe0 && c1 < 0xa0) ||
      (c === 0xed && c1 >= 0xa0) ||
      (c === 0xf0 && c1 < 0x90) ||
      (c === 0xf4 && c1 >= 0x90)
    )
      return i;
    i += n + 1;
  }
  return 0;
}

function decodeLine(bytes: Uint8Array, path: string, line: number): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: line !== 1 }).decode(bytes).replace(/\r$/, '');
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(`${path}:${line}: line too long (${bytes.length} bytes)`);
    const bad = firstInvalid(bytes);
    throw new UserError(
      `${path}:${line}: not valid UTF-8 (byte 0x${bytes[bad].toString(16).padStart(2, '0')} at byte ${bad + 1} of ` +
        'the line); save the file as UTF-8',
    );
  }
}

/** The lines of `path` (1-based numbers), without their line ends. */
export function* jsonlLines(path: string): Generator<{ text: string; line: number }> {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(CHUNK);
    let carry: Uint8Array[] = [];
    let line = 0;
    const join = (last: Uint8Array) => {
      if (!carry.length) return last;
      const all = new Uint8Array(carry.reduce((n, c) => n + c.length, last.length));
      let at = 0;
      for (const c of [...carry, last]) all.set(c, (at += c.length) - c.length);
      carry = [];
      return all;
    };
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
        const bytes = join(chunk.subarray(start, nl));
        start = nl + 1;
        line++;
        yield { text: decodeLine(bytes, path, line), line };
      }
      if (start < n) carry.push(chunk.slice(start)); // a copy: buf is reused
    }
    if (carry.length) {
      line++;
      yield { text: decodeLine(join(new Uint8Array(0)), path, line), line };
    }
  } finally {
    closeSync(fd);
  }
}
