// Training metrics: an append-only JSONL log (one object per train-log or validation event), the
// one-line console log (`step 120/5000 | loss 3.21 | lr 3.0e-4 | ...`), and a dependency-free SVG
// loss curve written atomically (temp file + rename via model/atomic-file.ts, so a viewer never sees
// half a file). Tick placement: the usual 1-2-5 "nice numbers" rule
// (Heckbert, "Nice numbers for graph labels", Graphics Gems, 1990).
// Deliberately no charting library, no HTML, no live server: one static SVG a browser can open.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { injectedWriteFault, writeFileAtomic } from '../model/atomic-file.ts';

// The one crash-safe write of the project, re-exported for the run directory's other files.
export { writeFileAtomic };

export interface MetricsRecord {
  event: 'train' | 'val' | (string & {});
  step: number;
  [key: string]: unknown;
}

export function appendMetrics(path: string, rec: MetricsRecord): void {
  injectedWriteFault(path);
  appendFileSync(path, JSON.stringify(rec) + '\n');
}

/** Every parsable record; a torn last line (crash mid-append) is skipped. */
export function readMetrics(path: string): MetricsRecord[] {
  if (!existsSync(path)) return [];
  const out: MetricsRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as MetricsRecord;
      if (r && typeof r === 'object' && typeof r.step === 'number') out.push(r);
    } catch {
      // only a crash can leave a partial line; the rest of the log is still good
    }
  }
  return out;
}

/** On resume from `step`, forget what the interrupted run logged after it. */
export function truncateMetricsAfter(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readMetrics(path).filter((r) => r.step <= step);
  writeFileAtomic(path, kept.map((r) => JSON.stringify(r) + '\n').join(''));
}

export interface LossPoint {
  step: number;
  train?: number;
  val?: number;
}

export function lossPointsFromMetrics(records: readonly MetricsRecord[]): LossPoint[] {
  const pts: LossPoint[] = [];
  for (const r of records) {
    if (typeof r['loss'] !== 'number') continue;
    if (r.event === 'train') pts.push({ step: r.step, train: r['loss'] });
    else if (r.event === 'val') pts.push({ step: r.step, val: r['loss'] });
  }
  return pts;
}

// ---- console line ------------------------------------------------------------------------------

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatCount(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(1)}G`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(1)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(0);
}

export function formatLoss(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(3);
}

/**
 * One optimizer step as the training loop reports it (trainer.ts's onLog) and the console line
 * prints it; the run adds what only it knows (time left, GPU memory) before printing.
 */
export interface StepEvent {
  step: number;
  maxSteps: number;
  loss: number;
  lr: number;
  stepMs: number;
  tokensPerSec: number;
  gradNorm?: number;
  etaSec?: number;
  gpuBytes?: number;
}

/** `step 120/5000 | loss 3.21 | lr 3.0e-4 | 412 ms | 9.8k tok/s | ETA 3m12s` */
export function formatLogLine(l: StepEvent): string {
  const parts = [
    `step ${l.step}/${l.maxSteps}`,
    `loss ${formatLoss(l.loss)}`,
    `lr ${l.lr.toExponential(1)}`,
    `${l.stepMs < 10 ? l.stepMs.toFixed(1) : Math.round(l.stepMs)} ms`,
    `${formatCount(l.tokensPerSec)} tok/s`,
  ];
  if (l.gpuBytes !== undefined) {
    parts.push(
      l.gpuBytes >= 2 ** 30
        ? `gpu ${(l.gpuBytes / 2 ** 30).toFixed(1)} GiB`
        : `gpu ${(l.gpuBytes / 2 ** 20).toFixed(0)} MiB`,
    );
  }
  if (l.etaSec !== undefined) parts.push(`ETA ${formatDuration(l.etaSec)}`);
  return parts.join(' | ');
}

// ---- SVG loss curve ----------------------------------------------------------------------------

function niceStep(range: number, target: number): number {
  const raw = range / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

function linearTicks(lo: number, hi: number, target = 6): number[] {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, target);
  // Ticks by integer index, not by `v += step`: when the range is tiny next to the values (a loss
  // flat at 1e6 +- 1e-10) the step falls below one ulp of v and an accumulating loop never ends.
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  if (!Number.isFinite(first) || !Number.isFinite(last) || last - first > 4 * target) return [lo, hi];
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks.length > 0 ? ticks : [lo, hi];
}

function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  const decades = Math.log10(hi / lo);
  const mult = decades < 3 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mult) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(v);
    }
  }
  return ticks.length >= 2 ? ticks : linearTicks(lo, hi, 4);
}

function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export interface SvgOptions {
  title?: string;
  logY?: boolean;
  width?: number;
  height?: number;
}

const COLORS = { train: '#1f77b4', val: '#ff7f0e' } as const;

export function renderLossSvg(points: readonly LossPoint[], opts: SvgOptions = {}): string {
  const W = opts.width ?? 720;
  const H = opts.height ?? 420;
  const m = { left: 64, right: 20, top: 40, bottom: 48 };
  const title = escapeXml(opts.title ?? 'loss');
  const ok = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v) && (!opts.logY || v > 0);
  const series = {
    train: points.filter((p) => ok(p.train)).map((p) => [p.step, p.train!] as const),
    val: points.filter((p) => ok(p.val)).map((p) => [p.step, p.val!] as const),
  };
  const all = [...series.train, ...series.val];
  const head =
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="sans-serif" font-size="12">\n<rect width="${W}" height="${H}" fill="white"/>\n` +
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${title}</text>\n`;
  if (all.length === 0) {
    return head + `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#888">no data yet</text>\n</svg>\n`;
  }
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  // A range below float resolution (equal values, or 1e6 vs 1e6 + 1e-10) would put every tick and
  // point on one pixel row or divide by zero: widen it around the values instead.
  const flat = y1 - y0 <= 1e-9 * Math.max(Math.abs(y0), Math.abs(y1));
  if (flat)
    [y0, y1] = opts.logY
      ? [y0 / 2, y1 * 2]
      : [y0 - 0.5 * Math.max(1, Math.abs(y0)), y1 + 0.5 * Math.max(1, Math.abs(y1))];
  if (!opts.logY) [y0, y1] = [Math.min(0, y0), y1 + 0.05 * (y1 - y0)];
  const ty = opts.logY ? (v: number) => Math.log10(v) : (v: number) => v;
  const [pw, ph] = [W - m.left - m.right, H - m.top - m.bottom];
  const sx = (v: number) => (m.left + ((v - x0) / (x1 - x0)) * pw).toFixed(1);
  const sy = (v: number) => (m.top + ph - ((ty(v) - ty(y0)) / (ty(y1) - ty(y0))) * ph).toFixed(1);
  const out: string[] = [head];
  out.push(`<g stroke="#ddd" stroke-width="1">`);
  const xt = linearTicks(x0, x1);
  const yt = opts.logY ? logTicks(y0, y1) : linearTicks(y0, y1);
  for (const v of xt) out.push(`<line x1="${sx(v)}" y1="${m.top}" x2="${sx(v)}" y2="${m.top + ph}"/>`);
  for (const v of yt) out.push(`<line x1="${m.left}" y1="${sy(v)}" x2="${m.left + pw}" y2="${sy(v)}"/>`);
  out.push(`</g>`);
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  for (const v of xt) {
    out.push(`<text x="${sx(v)}" y="${m.top + ph + 16}" text-anchor="middle">${tickLabel(v)}</text>`);
  }
  for (const v of yt) {
    out.push(
      `<text x="${m.left - 6}" y="${sy(v)}" text-anchor="end" dominant-baseline="middle">${tickLabel(v)}</text>`,
    );
  }
  out.push(`<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle">step</text>`);
  const yLabel = opts.logY ? 'loss (log scale)' : 'loss';
  out.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${yLabel}</text>`);
  const legend: [keyof typeof series, string][] = [];
  for (const key of ['train', 'val'] as const) {
    const pts = series[key];
    if (pts.length === 0) continue;
    legend.push([key, key === 'train' ? 'train' : 'validation']);
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${sx(p[0])} ${sy(p[1])}`).join(' ');
    out.push(`<path class="${key}" d="${d}" fill="none" stroke="${COLORS[key]}" stroke-width="1.5"/>`);
    if (key === 'val') {
      for (const p of pts) out.push(`<circle cx="${sx(p[0])}" cy="${sy(p[1])}" r="2.5" fill="${COLORS.val}"/>`);
    }
  }
  if (legend.length > 0) {
    const lx = m.left + pw - 118;
    out.push(
      `<rect x="${lx}" y="${m.top + 4}" width="110" height="${legend.length * 18 + 2}" fill="white" fill-opacity="0.85"/>`,
    );
  }
  legend.forEach(([key, label], i) => {
    const y = m.top + 14 + i * 18;
    const x = m.left + pw - 110;
    out.push(`<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${COLORS[key]}" stroke-width="2"/>`);
    out.push(`<text x="${x + 28}" y="${y}" dominant-baseline="middle">${label}</text>`);
  });
  out.push(`</svg>\n`);
  return out.join('\n');
}
