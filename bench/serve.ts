// `bench serve`: the HTTP server (serve/) on loopback, N streaming clients at once against the same
// N requests sent one by one. Each request is a greedy completion of an addition prompt ("37+48=",
// gen length 16 in blocks of 4, one token per step, EOS suppressed), streamed: time to first block is the first
// content chunk, latency the `[DONE]`. Figures: requests/s over the phase's wall time, time to first
// block p50, latency p50 and p99, and the batches the server ran. The answers of both phases are
// compared (sampling is batch-invariant, so they should agree). Bounded: at most 256 clients, and a
// phase that outlasts --seconds is stopped with an error. A figure, not a test.
import { existsSync } from 'node:fs';
import type { Device } from '../engine/device.ts';
import { UserError } from '../engine/errors.ts';
import { createConfig, tokenizerConfigFields } from '../model/config.ts';
import { createModel, loadModel } from '../model/io.ts';
import type { LLaDAModel } from '../model/llada.ts';
import { buildCharTokenizer } from '../model/tokenizer.ts';
import { startServer } from '../serve/server.ts';
import { newestCheckpoint } from '../train/checkpoint-dir.ts';
import type { BenchResult } from './harness.ts';

/** The most clients a run may start (cli/bench-cmd.ts repeats the figure for --help). */
export const SERVE_MAX_CLIENTS = 256;
// EOS suppressed: every answer is 16 tokens, so both phases do the same work whatever the model.
const KNOBS = { max_tokens: 16, block_length: 4, steps: 16, temperature: 0, logits_eos_inf: true };

interface Timing {
  firstMs: number;
  totalMs: number;
  text: string;
}

/** p-th percentile (nearest rank) of xs. */
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

async function streamOne(url: string, prompt: string, signal: AbortSignal): Promise<Timing> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({ prompt, stream: true, ...KNOBS }),
    signal,
  });
  if (!res.ok) throw new Error(`bench serve: HTTP ${res.status}: ${await res.text()}`);
  const rd = res.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const dec = new TextDecoder();
  let buf = '',
    text = '',
    firstMs = NaN;
  for (;;) {
    const { value, done } = await rd.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let k;
    while ((k = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, k);
      buf = buf.slice(k + 2);
      if (!ev.startsWith('data: {')) continue;
      const piece = (JSON.parse(ev.slice(6)) as { choices: { text: string }[] }).choices[0]?.text ?? '';
      if (piece && Number.isNaN(firstMs)) firstMs = performance.now() - t0;
      text += piece;
    }
  }
  const totalMs = performance.now() - t0;
  return { firstMs: Number.isNaN(firstMs) ? totalMs : firstMs, totalMs, text };
}

/** The model to serve: --checkpoint, else the default run's (runs/addition), else a random one of its shape. */
async function benchModel(dev: Device, checkpoint: string | undefined, log: (s: string) => void): Promise<LLaDAModel> {
  const dir = checkpoint ?? (existsSync('runs/addition') ? newestCheckpoint('runs/addition')?.path : undefined);
  if (dir) {
    log(`bench serve: model ${dir}`);
    return loadModel(dir, { device: dev });
  }
  log("bench serve: no runs/addition: a random model of the default run's shape (speed does not depend on training)");
  const tok = buildCharTokenizer('0123456789+=');
  const cfg = createConfig({
    d_model: 64,
    n_layers: 2,
    n_heads: 4,
    mlp_hidden_size: 192,
    max_sequence_length: 64,
    ...tokenizerConfigFields(tok),
  });
  const m = createModel(cfg, { device: dev, seed: 1 });
  m.tokenizer = tok;
  return m;
}

export async function benchServe(
  dev: Device,
  o: { checkpoint?: string; clients: number; seconds: number; log: (s: string) => void },
): Promise<BenchResult[]> {
  if (o.clients < 1 || o.clients > SERVE_MAX_CLIENTS)
    throw new UserError(`bench serve: --clients must be in [1, ${SERVE_MAX_CLIENTS}], got ${o.clients}`);
  const model = await benchModel(dev, o.checkpoint, o.log);
  const srv = startServer(model, {
    modelId: 'bench',
    maxBatch: Math.min(o.clients, 64),
    maxQueue: o.clients,
    maxBody: 1 << 20,
    defaultGenLength: 16,
  });
  try {
    await new Promise<void>((ok) => srv.http.listen(0, '127.0.0.1', ok));
    const addr = srv.http.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    let s = 12345;
    const rnd = (n: number) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const prompts = Array.from({ length: o.clients }, () => `${rnd(100)}+${rnd(100)}=`);
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), o.seconds * 1000);
    const phase = async (name: string, run: () => Promise<Timing[]>) => {
      const b0 = srv.batcher.stats.batches;
      const t0 = performance.now();
      let ts: Timing[];
      try {
        ts = await run();
      } catch (e) {
        if (ctl.signal.aborted) throw new UserError(`bench serve: the ${name} phase outlasted --seconds ${o.seconds}`);
        throw e;
      }
      const wall = (performance.now() - t0) / 1000;
      const lat = ts.map((t) => t.totalMs),
        first = ts.map((t) => t.firstMs);
      return { name, ts, wall, rps: ts.length / wall, batches: srv.batcher.stats.batches - b0, lat, first };
    };
    await streamOne(url, prompts[0], ctl.signal); // warm-up: pipeline compiles
    const seq = await phase('one by one', async () => {
      const out: Timing[] = [];
      for (const p of prompts) out.push(await streamOne(url, p, ctl.signal));
      return out;
    });
    const con = await phase(`${o.clients} concurrent`, () =>
      Promise.all(prompts.map((p) => streamOne(url, p, ctl.signal))),
    );
    clearTimeout(timer);
    const same = seq.ts.filter((t, i) => t.text === con.ts[i].text).length;
    const verified = `${same}/${o.clients} answers identical in both phases`;
    o.log(
      `bench serve: ${o.clients} requests; one by one ${seq.rps.toFixed(2)} req/s, concurrent ${con.rps.toFixed(2)} req/s (${(con.rps / seq.rps).toFixed(2)}x) in ${con.batches} batches; ${verified}`,
    );
    return [seq, con].map((r) => ({
      case: `serve ${r.name}`,
      shape: `${o.clients} streamed requests, gen 16 / block 4 / 16 steps`,
      ms_median: pct(r.lat, 50),
      ms_min: Math.min(...r.lat),
      ms_max: Math.max(...r.lat),
      compile_ms: 0,
      verified,
      peer: {},
      extra: {
        requests_per_sec: r.rps,
        first_block_ms_p50: pct(r.first, 50),
        latency_ms_p50: pct(r.lat, 50),
        latency_ms_p99: pct(r.lat, 99),
        batches: r.batches,
        wall_s: r.wall,
      },
    }));
  } finally {
    await srv.shutdown(true);
    model.dispose();
  }
}
