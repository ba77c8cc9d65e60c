// Bench plumbing shared by `dllm-wgpu bench` sections: timing (warm-up with first-use compile
// reported separately, then N repetitions each ended by a sync; medians, min, max), GPU time by
// timestamp queries where the adapter has them, and the result record printed as a table or JSON.
// Benchmarks are not tests: nothing here runs in `npm test`.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Device } from '../engine/device.ts';

export interface PeerFigure {
  ms?: number;
  /** Our median over repetitions alternated with this peer's (same conditions); the ratio uses it. */
  ours_ms?: number;
  gflops?: number;
  tokens_per_sec?: number;
  skipped?: string;
  note?: string;
}

export interface BenchResult {
  case: string;
  shape: string;
  ms_median: number;
  ms_min: number;
  ms_max: number;
  /** GPU time of the case's kernels (timestamp queries), median over repetitions. */
  gpu_ms?: number;
  compile_ms: number;
  gflops?: number;
  verified: string;
  peer: Record<string, PeerFigure>;
  extra?: Record<string, unknown>;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN;
};

/** One timed repetition of ours (encode, sync, in a scope): timeGpu's unit, and what a peer's repetitions alternate with. */
export type OursRep = () => Promise<number>;

export function oursRep(dev: Device, fn: () => void): OursRep {
  return async () => {
    let ms = 0;
    await dev.scope(async () => {
      const t = performance.now();
      fn();
      await dev.sync();
      ms = performance.now() - t;
    });
    return ms;
  };
}

/** "ours Nx": the peer's median over ours, both from the alternated repetitions when there are. */
export function speedup(p: PeerFigure, oursMedian: number): number | undefined {
  const ours = p.ours_ms ?? oursMedian;
  return p.ms && ours ? p.ms / ours : undefined;
}

/** Time `fn` (which encodes GPU work) `reps` times, each followed by a full sync. */
export async function timeGpu(
  dev: Device,
  fn: () => void,
  reps: number,
): Promise<{ compile: number; times: number[]; gpu?: number }> {
  const rep = oursRep(dev, fn);
  const compile = await rep(); // the first run includes pipeline compiles
  const times: number[] = [];
  for (let r = 0; r < reps; r++) times.push(await rep());
  let gpu: number | undefined;
  if (dev.facts.features.has('timestamp-query')) {
    const g: number[] = [];
    for (let r = 0; r < Math.min(reps, 3); r++) {
      dev.startProfile();
      await dev.scope(async () => {
        fn();
        await dev.sync();
      });
      const prof = await dev.stopProfile();
      g.push([...prof.values()].reduce((a, b) => a + b, 0));
    }
    gpu = median(g);
  }
  return { compile, times, gpu };
}

export function result(
  name: string,
  shape: string,
  tm: { compile: number; times: number[]; gpu?: number },
  flops: number | undefined,
  verified: string,
): BenchResult {
  const ms = median(tm.times);
  return {
    case: name,
    shape,
    ms_median: ms,
    ms_min: Math.min(...tm.times),
    ms_max: Math.max(...tm.times),
    gpu_ms: tm.gpu,
    compile_ms: tm.compile,
    gflops: flops ? flops / (ms * 1e6) : undefined,
    verified,
    peer: {},
  };
}

/** Max |a - b| / (atol + rtol |b|) over the arrays; <= 1 passes. */
export function verify(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): string {
  let worst = 0;
  for (let i = 0; i < want.length; i++)
    worst = Math.max(worst, Math.abs(got[i] - want[i]) / (atol + rtol * Math.abs(want[i])));
  if (!(worst <= 1))
    throw new Error(
      `benchmark result does not match the CPU reference (worst error ${worst.toFixed(2)}x the tolerance)`,
    );
  return `ok (worst ${(worst * 100).toFixed(0)}% of atol ${atol} + rtol ${rtol})`;
}

export function rand(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

const f = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));

export function printTable(rows: BenchResult[]): void {
  const lines = [
    ['case', 'shape', 'ms (median)', 'min-max', 'GPU ms', 'GFLOP/s', 'peers (same run)'],
    ...rows.map((r) => [
      r.case,
      r.shape,
      f(r.ms_median, 2),
      `${f(r.ms_min, 2)}-${f(r.ms_max, 2)}`,
      f(r.gpu_ms, 2),
      f(r.gflops, 2),
      Object.entries(r.peer)
        .map(([k, p]) =>
          p.skipped
            ? `${k}: skipped (${p.skipped})`
            : `${k}: ${f(p.ms, 2)} ms${p.gflops ? ` ${f(p.gflops, 2)} GFLOP/s` : ''}${p.tokens_per_sec ? ` ${f(p.tokens_per_sec, 0)} tok/s` : ''}${speedup(p, r.ms_median) ? ` (ours ${f(speedup(p, r.ms_median), 1)}x)` : ''}`,
        )
        .join('; '),
    ]),
  ];
  const w = lines[0].map((_, i) => Math.min(60, Math.max(...lines.map((l) => String(l[i]).length))));
  for (const l of lines)
    process.stdout.write(l.map((c, i) => (i === l.length - 1 ? c : String(c).padEnd(w[i]))).join('  ') + '\n');
}

/** Restart Linux's peak-RSS counter (VmHWM) for this process; false where that is not possible. */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return peakRssBytes() > 0;
  } catch {
    return false;
  }
}

/** This process's peak resident set (VmHWM), 0 where /proc is not there. */
export function peakRssBytes(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
