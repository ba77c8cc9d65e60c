// `bench startup`: wall time of `node bin/dllm-wgpu.js --help` (the compiled CLI in dist/), a fresh
// Node process per repetition, alternated with a bare `node -e 0` so a busy machine shows in both:
// the difference is what the CLI itself costs to start. It needs no GPU. A figure, not a test.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { median, type BenchResult } from './harness.ts';

/** bin/dllm-wgpu.js of this package: one folder up from bench/ in a checkout, two from dist/bench/. */
function binPath(): string {
  for (const rel of ['../bin/dllm-wgpu.js', '../../bin/dllm-wgpu.js']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('bench startup: bin/dllm-wgpu.js not found beside this package');
}

function timeProcess(args: string[]): { ms: number; stdout: string; status: number | null; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { ms: performance.now() - t0, stdout: r.stdout ?? '', stderr: r.stderr ?? '', status: r.status };
}

export function benchStartup(repeat: number, log: (s: string) => void): BenchResult[] {
  const bin = binPath();
  log(`bench startup: node ${bin} --help, ${repeat} repetitions alternated with node -e 0`);
  const first = timeProcess([bin, '--help']); // warm-up: the first run pays for cold file caches
  if (first.status !== 0 || !first.stdout.includes('Usage: dllm-wgpu'))
    throw new Error(`bench startup: --help failed (exit ${first.status}): ${first.stderr.trim().split('\n')[0]}`);
  timeProcess(['-e', '0']);
  const cli: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < repeat; i++) {
    cli.push(timeProcess([bin, '--help']).ms);
    bare.push(timeProcess(['-e', '0']).ms);
  }
  const ms = median(cli);
  return [
    {
      case: 'startup --help',
      shape: 'fresh process',
      ms_median: ms,
      ms_min: Math.min(...cli),
      ms_max: Math.max(...cli),
      compile_ms: first.ms,
      verified: 'ok (exit 0, usage printed)',
      peer: {},
      extra: { node_bare_ms: median(bare), cli_over_bare_ms: ms - median(bare), bin },
    },
  ];
}
