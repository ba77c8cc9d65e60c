// Tests for metrics: the SVG is well-formed XML-ish (every tag closed and nested), holds both series
// and a legend, escapes its title and survives log scale and empty input; the log line has the
// documented shape (`step 120/5000 | loss ...`); the JSONL log round-trips, tolerates a torn last
// line and truncates for resume.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appendMetrics,
  formatDuration,
  formatLogLine,
  lossPointsFromMetrics,
  readMetrics,
  renderLossSvg,
  truncateMetricsAfter,
  writeFileAtomic,
  type LossPoint,
} from './metrics.ts';

const FC = { seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined, numRuns: 100 };

/** Checks tags nest and close, attributes are quoted, and no raw '&' or '<' sits in text. */
function wellFormed(xml: string): string | undefined {
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, '');
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/g;
  let consumed = 0;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    consumed += m[0].length;
    if (m[5] !== undefined) {
      if (/&(?!(lt|gt|amp|quot|apos);)/.test(m[5])) return `raw & in text ${JSON.stringify(m[5])}`;
      continue;
    }
    const [, close, name, , selfClose] = m;
    if (close) {
      if (stack.pop() !== name) return `mismatched </${name}>`;
    } else if (!selfClose) stack.push(name);
  }
  if (consumed !== body.length) return 'unparsable markup';
  return stack.length ? `unclosed <${stack.at(-1)}>` : undefined;
}

const curve = (): LossPoint[] => [
  ...Array.from({ length: 50 }, (_, i) => ({ step: (i + 1) * 10, train: 3 * Math.exp(-i / 10) + 0.1 })),
  ...[100, 200, 300, 400, 500].map((step) => ({ step, val: 3 * Math.exp(-step / 100) + 0.2 })),
];

test('the well-formedness checker itself rejects broken markup', () => {
  assert.is(wellFormed('<svg><g></g></svg>'), undefined);
  assert.is.not(wellFormed('<svg><g></svg>'), undefined);
  assert.is.not(wellFormed('<svg><text>a & b</text></svg>'), undefined);
  assert.is.not(wellFormed('<svg width=3></svg>'), undefined);
});

test('the loss SVG is well-formed and holds both series, legend, axes and title', () => {
  const svg = renderLossSvg(curve(), { title: 'run <a & b>' });
  assert.is(wellFormed(svg), undefined);
  assert.match(svg, /<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<path class="train" d="M[\d.]+ [\d.]+( L[\d.]+ [\d.]+){49}"/);
  assert.match(svg, /<path class="val" d="M[\d.]+ [\d.]+( L[\d.]+ [\d.]+){4}"/);
  assert.match(svg, />validation</);
  assert.match(svg, />train</);
  assert.match(svg, />step</);
  assert.match(svg, /run &lt;a &amp; b&gt;/);
  assert.match(svg, />500</); // an x tick at the last step
});

test('log scale, a single point, no data and non-finite values still give well-formed SVG', () => {
  const log = renderLossSvg(curve(), { logY: true });
  assert.is(wellFormed(log), undefined);
  assert.match(log, /loss \(log scale\)/);
  assert.match(log, />1</); // a decade tick
  assert.is(wellFormed(renderLossSvg([{ step: 1, train: 2 }])), undefined);
  const empty = renderLossSvg([]);
  assert.is(wellFormed(empty), undefined);
  assert.match(empty, /no data/);
  const nan = renderLossSvg([
    { step: 1, train: NaN },
    { step: 2, train: 1 },
    { step: 3, train: 0.5 },
  ]);
  assert.not.match(nan, /NaN/);
});

test('any finite curve renders well-formed with every coordinate inside the plot', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ step: fc.nat(100000), train: fc.double({ min: 1e-6, max: 1e6, noNaN: true }) }), {
        minLength: 1,
        maxLength: 40,
      }),
      fc.boolean(),
      (pts, logY) => {
        const svg = renderLossSvg(pts, { logY, width: 500, height: 300 });
        const nums = [...svg.matchAll(/[ML]([\d.-]+) ([\d.-]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
        return wellFormed(svg) === undefined && nums.every(([x, y]) => x >= 0 && x <= 500 && y >= 0 && y <= 300);
      },
    ),
    FC,
  );
});

test('a curve flat to within float resolution renders (ticks by index, not an endless v += step)', () => {
  // CI once died here: log scale, values 1e6 and 1e6 - 1e-10; the tick step fell below one ulp.
  for (const logY of [false, true]) {
    // Each pair is one ulp apart.
    for (const [a, b] of [
      [1e6, 999999.9999999999],
      [3, 3.0000000000000004],
      [1e-6, 1.0000000000000002e-6],
    ] as const) {
      const pts = [
        { step: 1, train: a },
        { step: 2, train: b },
      ];
      const svg = renderLossSvg(pts, { logY });
      assert.is(wellFormed(svg), undefined, `${a} logY=${logY}`);
      assert.ok(svg.length < 20000, `${a} logY=${logY}: ${svg.length} chars`);
    }
  }
});

test('nearly equal curves (random base, relative spread down to 1e-15) render inside the plot', () => {
  fc.assert(
    fc.property(
      fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
      fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 1, max: 15 }),
      fc.boolean(),
      (base, offs, exp, logY) => {
        const pts = offs.map((o, i) => ({ step: i, train: base * (1 + o * 10 ** -exp) })).filter((p) => p.train > 0);
        const svg = renderLossSvg(pts, { logY, width: 500, height: 300 });
        const nums = [...svg.matchAll(/[ML]([\d.-]+) ([\d.-]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
        return wellFormed(svg) === undefined && nums.every(([x, y]) => x >= 0 && x <= 500 && y >= 0 && y <= 300);
      },
    ),
    FC,
  );
});

test('log line format', () => {
  const line = formatLogLine({
    step: 120,
    maxSteps: 5000,
    loss: 3.2149,
    lr: 3e-4,
    stepMs: 412.3,
    tokensPerSec: 9812,
    etaSec: 192,
  });
  assert.is(line, 'step 120/5000 | loss 3.21 | lr 3.0e-4 | 412 ms | 9.8k tok/s | ETA 3m12s');
  const gpu = formatLogLine({
    step: 1,
    maxSteps: 2,
    loss: 0.01234,
    lr: 1e-3,
    stepMs: 4.56,
    tokensPerSec: 512,
    gpuBytes: 1.2 * 2 ** 30,
  });
  assert.is(gpu, 'step 1/2 | loss 0.0123 | lr 1.0e-3 | 4.6 ms | 512 tok/s | gpu 1.2 GiB');
  const small = formatLogLine({
    step: 1,
    maxSteps: 2,
    loss: 0.01234,
    lr: 1e-3,
    stepMs: 4.56,
    tokensPerSec: 512,
    gpuBytes: 60 * 2 ** 20,
  });
  assert.ok(small.endsWith('| gpu 60 MiB'), small);
  assert.is(formatDuration(3725), '1h02m');
  assert.is(formatDuration(59.4), '59s');
});

test('metrics JSONL: append, read back (skipping a torn last line), truncate for resume', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dllm-metrics-'));
  const path = join(dir, 'metrics.jsonl');
  assert.equal(readMetrics(path), []);
  for (let step = 10; step <= 50; step += 10)
    appendMetrics(path, { event: 'train', step, loss: 5 - step / 10, lr: 1e-3 });
  appendMetrics(path, { event: 'val', step: 50, loss: 0.5 });
  appendFileSync(path, '{"event": "train", "st');
  const recs = readMetrics(path);
  assert.is(recs.length, 6);
  assert.equal(lossPointsFromMetrics(recs).at(-1), { step: 50, val: 0.5 });
  assert.equal(lossPointsFromMetrics(recs)[0], { step: 10, train: 4 });
  truncateMetricsAfter(path, 30);
  assert.equal(
    readMetrics(path).map((r) => r.step),
    [10, 20, 30],
  );
  assert.ok(readFileSync(path, 'utf8').endsWith('\n'));
  writeFileAtomic(join(dir, 'a.svg'), '<svg/>');
  assert.is(readFileSync(join(dir, 'a.svg'), 'utf8'), '<svg/>');
  assert.equal(readdirSync(dir).sort(), ['a.svg', 'metrics.jsonl']);
  assert.ok(!existsSync(join(dir, 'nope.jsonl')));
});

test.run();
