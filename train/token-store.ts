// Token store: the fixed-length rows of a tokenised dataset (ids as int32, prompt and loss masks as
// bytes: 6 bytes per token), appended as they are built and read back row by row in whatever order
// training visits them. Up to a memory budget (64 MiB) rows stay in host memory; past it they all
// go to a file and every later row is appended there, so a dataset is bounded by disk, not by host
// memory or by the longest JS string. Per row only its supervised-token count stays in memory.
// The file lives in a fresh folder under the OS temporary directory, and both are unlinked as soon as
// the file is open: the rows live on through the descriptor, and the system frees them when it
// closes, however the process ends (close(), exit, a crash or SIGKILL leave nothing behind). Where
// an open file cannot be unlinked (some Windows set-ups), they are removed on close() and at exit.
// Test hook: DLLM_WGPU_TOKEN_STORE_MEMORY=BYTES sets the memory budget (0: every row on disk).
// Deliberately not here: how rows are laid out (data-rows.ts) or ordered (data-order.ts).
import { closeSync, mkdtempSync, openSync, readSync, rmdirSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Stores still open (folder -> file descriptor), closed and removed when the process exits. */
const openFiles = new Map<string, number>();
let hooked = false;
function removeAtExit(dir: string, fd: number): void {
  openFiles.set(dir, fd);
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const [d, f] of openFiles) {
      closeSync(f); // before the removal: Windows keeps an open file
      rmSync(d, { recursive: true, force: true });
    }
  });
}

const MEMORY_BYTES = 64 << 20;
/** Once on disk, rows are written in batches of about this many bytes. */
const FLUSH_BYTES = 4 << 20;

function memoryBudget(): number {
  const v = process.env.DLLM_WGPU_TOKEN_STORE_MEMORY;
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : MEMORY_BYTES;
}

export class TokenStore {
  private rows = 0;
  private lengths = new Int32Array(64);
  private readonly rowBytes: number;
  /** In memory: every row so far. On disk: rows not yet written, from `written` on. */
  private buf: Uint8Array;
  private written = 0;
  private file: { dir: string; fd: number } | null = null;
  private readonly scratch: Uint8Array;

  constructor(
    readonly T: number,
    private readonly memoryBytes = memoryBudget(),
  ) {
    this.rowBytes = 6 * T;
    this.buf = new Uint8Array(Math.min(64, Math.max(1, Math.floor(memoryBytes / this.rowBytes))) * this.rowBytes);
    this.scratch = new Uint8Array(this.rowBytes);
  }

  get nRows(): number {
    return this.rows;
  }

  /** Whether the rows are in a file (past the memory budget). */
  get onDisk(): boolean {
    return this.file !== null;
  }

  /** Supervised tokens of each row, (R,). */
  get answerLength(): Int32Array {
    return this.lengths.subarray(0, this.rows);
  }

  /** Appends one row: ids (T) then the prompt and loss masks (T bytes each). */
  add(ids: Int32Array, prompt: Uint8Array, loss: Uint8Array, supervised: number): void {
    const T = this.T;
    if (!this.file && (this.rows + 1) * this.rowBytes > this.memoryBytes) this.spill();
    const slot = this.rows - this.written;
    if ((slot + 1) * this.rowBytes > this.buf.length) this.grow(slot + 1);
    const at = (this.rows - this.written) * this.rowBytes;
    this.buf.set(new Uint8Array(ids.buffer, ids.byteOffset, 4 * T), at);
    this.buf.set(prompt.subarray(0, T), at + 4 * T);
    this.buf.set(loss.subarray(0, T), at + 5 * T);
    if (this.rows === this.lengths.length) {
      const more = new Int32Array(2 * this.lengths.length);
      more.set(this.lengths);
      this.lengths = more;
    }
    this.lengths[this.rows++] = supervised;
    if (this.file && (this.rows - this.written) * this.rowBytes >= FLUSH_BYTES) this.flush();
  }

  private grow(rows: number): void {
    const more = new Uint8Array(Math.max(rows, 2 * (this.buf.length / this.rowBytes)) * this.rowBytes);
    more.set(this.buf);
    this.buf = more;
  }

  /** Moves every row so far into a new file; later rows are appended there. */
  private spill(): void {
    const dir = mkdtempSync(join(tmpdir(), 'dllm-wgpu-rows-'));
    const path = join(dir, 'rows.bin');
    this.file = { dir, fd: openSync(path, 'w+') };
    try {
      unlinkSync(path);
      rmdirSync(dir);
    } catch {
      removeAtExit(dir, this.file.fd);
    }
    this.flush();
    this.buf = new Uint8Array(Math.max(1, Math.floor(FLUSH_BYTES / this.rowBytes)) * this.rowBytes);
  }

  private flush(): void {
    const n = (this.rows - this.written) * this.rowBytes;
    for (let off = 0; off < n;) off += writeSync(this.file!.fd, this.buf, off, n - off);
    this.written = this.rows;
  }

  /** Row r into ids / prompt / loss at row position `at` of those (B, T) arrays. */
  readRow(r: number, ids: Int32Array, prompt: Uint8Array, loss: Uint8Array, at: number): void {
    if (!Number.isInteger(r) || r < 0 || r >= this.rows) throw new RangeError(`row ${r} not in [0, ${this.rows})`);
    const T = this.T;
    let row: Uint8Array;
    if (!this.file) row = this.buf.subarray(r * this.rowBytes, (r + 1) * this.rowBytes);
    else {
      if (this.rows > this.written) this.flush();
      row = this.scratch;
      for (let got = 0; got < this.rowBytes;) {
        const n = readSync(this.file.fd, row, got, this.rowBytes - got, r * this.rowBytes + got);
        if (n === 0) throw new Error(`token store ${this.file.dir}: row ${r} ends early`);
        got += n;
      }
    }
    // Rows start at multiples of 6T bytes: copied as bytes, the ids land in place whatever the alignment.
    new Uint8Array(ids.buffer, ids.byteOffset + 4 * at * T, 4 * T).set(row.subarray(0, 4 * T));
    prompt.set(row.subarray(4 * T, 5 * T), at * T);
    loss.set(row.subarray(5 * T, 6 * T), at * T);
  }

  /** Deletes the file, if any (a dataset is not read after its run or eval ends). */
  close(): void {
    if (!this.file) return;
    closeSync(this.file.fd);
    rmSync(this.file.dir, { recursive: true, force: true });
    openFiles.delete(this.file.dir);
    this.file = null;
    this.rows = this.written = 0;
  }
}
