// `bench --report FILE.md`: the figures of one bench run as a Markdown page (machine, command,
// every case with its peers from the same run) plus an SVG bar chart of ours vs peers (ms per
// case, log scale: shorter is better), written beside it. No charting library. Text below the
// KEEP_MARKER line of an existing page (hand-written sections) is carried over to the new one.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { cpus, totalmem } from 'node:os';
import { speedup, type BenchResult } from './harness.ts';

const fmt = (x: unknown, d = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '-');

function chart(rows: BenchResult[]): string {
  const items = rows.flatMap((r) => {
    const peers = Object.entries(r.peer).filter(([, p]) => p.ms !== undefined);
    return peers.length
      ? [
          {
            name: r.case,
            ours: peers.find(([, p]) => p.ours_ms)?.[1].ours_ms ?? r.ms_median,
            peers: peers.map(([k, p]) => ({ k, ms: p.ms! })),
          },
        ]
      : [];
  });
  const names = ['dllm-wgpu', ...new Set(items.flatMap((i) => i.peers.map((p) => p.k)))];
  const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];
  const barH = 12,
    gap = 10,
    left = 300,
    width = 460;
  const groupH = names.length * barH + gap;
  const H = 60 + items.length * groupH;
  const all = items.flatMap((i) => [i.ours, ...i.peers.map((p) => p.ms)]).filter((v) => v > 0);
  const lo = Math.log10(Math.min(...all) / 2),
    hi = Math.log10(Math.max(...all) * 2);
  const x = (ms: number) => left + ((Math.log10(ms) - lo) / (hi - lo)) * width;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 120}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<text x="10" y="18" font-size="14">ms per operation (log scale, shorter is better), one run: WebGPU peers on the same adapter, PyTorch on the same CPU</text>`,
  ];
  names.forEach((n, i) =>
    out.push(
      `<rect x="${10 + i * 150}" y="28" width="10" height="10" fill="${colors[i % 4]}"/><text x="${24 + i * 150}" y="37">${n}</text>`,
    ),
  );
  items.forEach((it, gi) => {
    const y0 = 50 + gi * groupH;
    out.push(
      `<text x="${left - 6}" y="${y0 + (names.length * barH) / 2 + 4}" text-anchor="end">${it.name.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text>`,
    );
    const vals = [it.ours, ...names.slice(1).map((n) => it.peers.find((p) => p.k === n)?.ms)];
    vals.forEach((ms, i) => {
      if (ms === undefined) return;
      const y = y0 + i * barH;
      out.push(
        `<rect x="${left}" y="${y}" width="${Math.max(1, x(ms) - left)}" height="${barH - 2}" fill="${colors[i % 4]}"/>`,
      );
      out.push(`<text x="${x(ms) + 4}" y="${y + barH - 3}">${ms < 10 ? ms.toFixed(2) : ms.toFixed(0)}</text>`);
    });
  });
  out.push('</svg>');
  return out.join('\n');
}

export const KEEP_MARKER = '<!-- written by hand below this line: kept when bench --report rewrites the page -->';

export function writeReport(path: string, rows: BenchResult[], o: { command: string; adapter: string }): void {
  const svg = basename(path).replace(/\.md$/, '') + '.svg';
  writeFileSync(join(dirname(path), svg), chart(rows) + '\n');
  const lines = [
    '# dllm-wgpu performance',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with \`${o.command}\` on ${o.adapter}; host: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB.`,
    'Every case is checked once against the CPU reference before it is timed; times are medians of the repetitions',
    '(wall time per operation including the sync; "GPU ms" from timestamp queries, a separate set of runs). Peers ran in',
    'the same process on the same Dawn adapter (TF.js WebGPU, gpu.js) or on the same CPU (PyTorch). TF.js is timed like',
    'ours: one call then one sync per repetition, waiting through the same engine/wait.ts (which keeps dawn.node from',
    'busy-polling a CPU core during the wait), and its repetitions alternate with repetitions of ours, so a shared',
    'machine slowing down mid-run slows both; the ratio is between those two medians. PyTorch (CPU) runs the same',
    'training step in a python3 process whose steps alternate with ours the same way; it names the BLAS torch runs on',
    "and torch's own 1024^3 matmul rate, and a run on the reference BLAS is no peer (no ratio). Sampling settings",
    'alternate batch by batch. Regenerate this page with the command above.',
    '',
    `![ours vs peers](${svg})`,
    '',
    '| case | shape | ms | GPU ms | GFLOP/s | peers (same run) |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.case} | ${r.shape} | ${fmt(r.ms_median)} | ${fmt(r.gpu_ms)} | ${fmt(r.gflops)} | ${Object.entries(r.peer)
          .map(([k, p]) =>
            p.skipped
              ? `${k}: skipped (${p.skipped})`
              : `${k}: ${fmt(p.ms)} ms${p.gflops ? `, ${fmt(p.gflops)} GFLOP/s` : ''}${p.tokens_per_sec ? `, ${fmt(p.tokens_per_sec, 0)} tok/s` : ''}${speedup(p, r.ms_median) ? ` (ours ${fmt(speedup(p, r.ms_median), 1)}x faster${p.ours_ms ? `; ours ${fmt(p.ours_ms)} ms alternated with it` : ''})` : ''}`,
          )
          .join('; ')} |`,
    ),
    '',
    '## Details',
    '',
    ...rows
      .filter((r) => r.extra)
      .map(
        (r) =>
          `- **${r.case}**: ${Object.entries(r.extra!)
            .map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : fmt(v, 3)}`)
            .join(', ')}`,
      ),
    '',
  ];
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const kept = old.indexOf(KEEP_MARKER);
  writeFileSync(path, lines.join('\n') + (kept >= 0 ? '\n' + old.slice(kept) : ''));
}
