/** The bench's report: its JSON shape and its Markdown summary, with the targets checked. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CapacityResult } from './capacity.js';
import type { SoakResult } from './soak.js';
import { median } from './lib/stats.js';
import { barChart, throughputChart, type BarGroup, type Series } from './lib/svg-chart.js';
import type { CellResult } from './throughput.js';

export interface HookResult {
  readonly name: string;
  readonly exitCode: number | null;
  readonly outputTail: string;
  readonly json?: unknown;
}

export interface BenchReport {
  date: string;
  finished?: string;
  command: string;
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; kernel: string; loadAverageAtStart: number[]; loadAverageAtEnd?: number[] };
  settings: Record<string, unknown>;
  workers: number[];
  throughput: CellResult[];
  hooks: HookResult[];
  capacity?: { skein: CapacityResult; baseline: CapacityResult };
  soak?: SoakResult;
}

/** Framework overhead target: skein's throughput at least 95% of the baseline's. */
export const OVERHEAD_TARGET = 0.95;
/** Idle-connection target: 10,000 connections in one worker under 100 MB of RSS growth. */
export const CAPACITY_TARGET = { connections: 10_000, growthMiB: 100 };

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const pass = (ok: boolean) => (ok ? '**met**' : '**missed**');

function throughputTable(cells: CellResult[]): string[] {
  const lines = [
    '| protocol | workers | conns | depth | skein req/s | baseline req/s | throughput skein / base | server CPU µs/req skein / base | CPU/req skein / base | p50 / p99 ms skein | p50 / p99 ms base | load-gen CPU |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const c of cells) {
    lines.push(
      `| ${c.protocol} | ${c.workers} | ${c.connections} | ${c.pipeline} | ${int.format(c.skein.throughput)} | ${int.format(c.baseline.throughput)} | ${c.ratio.toFixed(3)} | ${c.skein.cpuPerRequestUs} / ${c.baseline.cpuPerRequestUs} | ${c.cpuRatio.toFixed(3)} | ${c.skein.p50Ms} / ${c.skein.p99Ms} | ${c.baseline.p50Ms} / ${c.baseline.p99Ms} | ${c.skein.generatorCpu}% |`,
    );
  }
  return lines;
}

/** The Markdown summary written beside the JSON. */
export function renderMarkdown(r: BenchReport): string {
  const m = r.machine;
  const out: string[] = [
    `# skein benchmarks, ${r.date.slice(0, 10)}`,
    '',
    `Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}; load average ${m.loadAverageAtStart.join(' ')} at the start${m.loadAverageAtEnd ? `, ${m.loadAverageAtEnd.join(' ')} at the end` : ''}.`,
    `The load generator (\`skein load\`, worker threads) runs on the same host. Command: \`${r.command}\`.`,
    `Settings: ${JSON.stringify(r.settings)}.`,
    '',
  ];
  const targets: string[] = [];
  if (r.throughput.length > 0) {
    out.push(
      '## Throughput: skein against hand-written node:net',
      '',
      'Baseline for 1 worker: the protocol hand-written on node:net in one process; for N workers: the same under node:cluster with N workers.',
      'Each row: medians of the rounds; the two ratios are medians of per-round ratios (skein and baseline back to back, alternating which goes first).',
      '`server CPU µs/req` is the CPU time (user + system, all of the server\'s processes, from /proc) per reply over the steady state (read when the',
      'generator reports its window open and closed, so connecting and closing are left out): unlike throughput it hardly moves when other work on',
      'the host steals the cores, so it is the overhead figure to trust on a shared machine. Latency is a closed loop (coordinated omission applies).',
      '`load-gen CPU` is the load generator\'s own CPU during the skein runs (percent of one core).',
      '',
      ...throughputTable(r.throughput),
      '',
      '![throughput vs connections](throughput.svg)',
      '',
    );
    const cpuRatios = r.throughput.map((c) => c.cpuRatio);
    const worst = r.throughput.reduce((a, b) => (b.cpuRatio > a.cpuRatio ? b : a));
    const over = r.throughput.filter((c) => c.cpuRatio > 1 / OVERHEAD_TARGET);
    const medianCpu = median(cpuRatios);
    const medianThroughput = median(r.throughput.map((c) => c.ratio));
    targets.push(
      `- Framework overhead ≤ 5% against node:net with the same framing and process count: ${pass(medianCpu <= 1 / OVERHEAD_TARGET)} by server CPU per reply (median over the ${r.throughput.length} cells ${medianCpu.toFixed(3)}× the baseline's; ${over.length} cells above 1.05, highest ${worst.cpuRatio.toFixed(3)} at ${worst.protocol} ×${worst.workers}, ${worst.connections} connections, depth ${worst.pipeline}). Throughput ratio, median over cells: ${medianThroughput.toFixed(3)} (noisy on a shared host).`,
    );
  }
  for (const hook of r.hooks) {
    out.push(`## bench/${hook.name}.ts`, '', `Exit code ${hook.exitCode}. Last lines of its output:`, '', '```', hook.outputTail, '```', '');
    if (hook.name === 'http' && httpChartOf(r)) out.push('![skein http vs node:http](http.svg)', '');
  }
  if (r.capacity) {
    const { skein, baseline } = r.capacity;
    out.push(
      '## Idle connections in one worker',
      '',
      '| server | connections held | RSS before MiB | RSS at target MiB | growth MiB | KiB per connection | RSS after close MiB |',
      '|---|---|---|---|---|---|---|',
      ...[skein, baseline].map(
        (c) => `| ${c.server} | ${int.format(c.held)} / ${int.format(c.target)} | ${c.rssBeforeMiB} | ${c.rssAtTargetMiB} | ${c.growthMiB} | ${c.perConnectionKiB} | ${c.rssAfterCloseMiB} |`,
      ),
      '',
    );
    const scaled = (skein.growthMiB * CAPACITY_TARGET.connections) / skein.target;
    targets.push(
      `- ${int.format(CAPACITY_TARGET.connections)} idle connections in one worker under ${CAPACITY_TARGET.growthMiB} MB of RSS growth: ${pass(skein.held === skein.target && scaled < CAPACITY_TARGET.growthMiB)} (${int.format(skein.held)} of ${int.format(skein.target)} held, ${skein.growthMiB} MiB growth${skein.target !== CAPACITY_TARGET.connections ? `, ${round2(scaled)} MiB scaled to 10,000` : ''}; node:net baseline ${baseline.growthMiB} MiB, ratio ${round2(skein.growthMiB / baseline.growthMiB)}).`,
    );
  }
  if (r.soak) {
    const s = r.soak;
    out.push(
      '## Soak',
      '',
      `${int.format(s.load.requests)} \`processed\` messages over ${s.connections} connections in ${s.load.durationSeconds} s (${int.format(s.load.throughput)} req/s, ${s.load.errors} errors), one worker, after a warm-up of ${int.format(s.warmupMessages)} messages; VmRSS sampled each second (${s.samples.length} samples).`,
      `Median RSS ${s.earlyMiB} MiB over the first quarter of the samples, ${s.lateMiB} MiB over the last (growth ${s.growthMiB} MiB; flat means within 3% or 2 MiB); least-squares slope ${s.slopeMiBPerMinute} MiB/min.`,
      '',
      `RSS (MiB) every ~10 s: ${s.samples.filter((_, i) => i % 10 === 0).map((x) => x.rssMiB).join(', ')}`,
      '',
    );
    targets.push(`- No RSS growth trend over the soak: ${pass(s.flat)} (growth ${s.growthMiB} MiB from the first to the last quarter of the soak, slope ${s.slopeMiBPerMinute} MiB/min).`);
  }
  if (targets.length > 0) out.push('## Targets', '', ...targets, '');
  return `${out.join('\n')}\n`;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** Throughput against connections at pipeline depth 1, `processed`: skein and its baselines. */
export function chartOf(report: BenchReport): string | undefined {
  const cells = report.throughput.filter((c) => c.protocol === 'processed' && c.pipeline === 1);
  if (cells.length === 0) return undefined;
  const colors = { skeinN: '#1f6feb', baseN: '#1f6feb', skein1: '#d1242f', base1: '#d1242f' };
  const series: Series[] = [];
  for (const workers of report.workers) {
    const mine = cells.filter((c) => c.workers === workers);
    if (mine.length === 0) continue;
    const many = workers > 1;
    series.push({ label: mine[0]!.skein.server, color: many ? colors.skeinN : colors.skein1, dashed: false, points: mine.map((c) => [c.connections, c.skein.throughput]) });
    series.push({ label: mine[0]!.baseline.server, color: many ? colors.baseN : colors.base1, dashed: true, points: mine.map((c) => [c.connections, c.baseline.throughput]) });
  }
  const m = report.machine;
  return throughputChart(
    'processed: skein vs hand-written node:net (pipeline depth 1)',
    `${m.cores} cores (${m.cpu}), Node ${m.node}, load generator on the same host; ${report.date.slice(0, 10)}`,
    series,
  );
}

/** One row of bench/http.ts's summary (the fields the chart needs). */
interface HttpRow {
  readonly tool: string;
  readonly pipelining: number;
  readonly server: string;
  readonly 'req/s (median)': number;
  readonly 'skein/node': number | '';
}

/** skein's `http` against node:http, both under N workers: req/s per load generator and pipeline depth. */
export function httpChartOf(report: BenchReport): string | undefined {
  const summary = (report.hooks.find((h) => h.name === 'http')?.json as { summary?: HttpRow[]; options?: { connections?: number } } | undefined)?.summary;
  if (!summary || summary.length === 0) return undefined;
  const groups: BarGroup[] = [];
  for (const row of summary) {
    if (row.server !== 'skein') continue;
    const node = summary.find((r) => r.server === 'node:http' && r.tool === row.tool && r.pipelining === row.pipelining);
    if (!node) continue;
    groups.push({
      label: `${row.tool.replace(' (', '\n(')}\ndepth ${row.pipelining}`,
      note: row['skein/node'] === '' ? undefined : `${row['skein/node']}×`,
      values: [row['req/s (median)'], node['req/s (median)']],
    });
  }
  if (groups.length === 0) return undefined;
  const m = report.machine;
  const workers = report.workers[report.workers.length - 1] ?? 1;
  return barChart(
    `http: skein vs node:http, ${workers} workers each`,
    `${m.cores} cores (${m.cpu}), Node ${m.node}, load generator on the same host; ${report.date.slice(0, 10)}`,
    [
      { label: 'skein http', color: '#1f6feb' },
      { label: 'node:http (node:cluster)', color: '#8c959f' },
    ],
    groups,
    'requests per second (median of rounds)',
  );
}

/** Writes the charts the report has data for next to it; returns their file names. */
export function writeCharts(report: BenchReport, dir: string): string[] {
  const written: string[] = [];
  for (const [name, chart] of [
    ['throughput.svg', chartOf(report)],
    ['http.svg', httpChartOf(report)],
  ] as const) {
    if (chart === undefined) continue;
    writeFileSync(join(dir, name), chart);
    written.push(name);
  }
  return written;
}
