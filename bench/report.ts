/** The bench's report: its JSON shape and its Markdown summary, with the targets checked. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CapacityResult } from './capacity.js';
import { httpMarkdown, type HttpCase, type HttpReport } from './http.js';
import { STOPPED_SCRAPE_TARGET_MS, type ScrapeResult } from './scrape.js';
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
  http?: HttpReport;
  scrape?: ScrapeResult;
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
    '| protocol | workers | conns | depth | neighbour | skein req/s | baseline req/s | throughput skein / base | server CPU µs/req skein / base | CPU/req skein / base | p50 / p99 ms skein | p50 / p99 ms base | load-gen CPU |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const c of cells) {
    lines.push(
      `| ${c.protocol} | ${c.workers} | ${c.connections} | ${c.pipeline} | ${c.busyNeighbour ? 'busy' : 'quiet'} | ${int.format(c.skein.throughput)} | ${int.format(c.baseline.throughput)} | ${c.ratio.toFixed(3)} (${range(c.ratioRange)}) | ${c.skein.cpuPerRequestUs} / ${c.baseline.cpuPerRequestUs} | ${c.cpuRatio.toFixed(3)} (${range(c.cpuRatioRange)}) | ${c.skein.p50Ms} / ${c.skein.p99Ms} | ${c.baseline.p50Ms} / ${c.baseline.p99Ms} | ${c.skein.generatorCpu}% |`,
    );
  }
  return lines;
}

function range(r: readonly [number, number] | undefined): string {
  return r ? `${r[0].toFixed(2)}–${r[1].toFixed(2)}` : '';
}

interface Headline {
  readonly measure: string;
  readonly ratio: number | undefined;
  readonly spread: string;
  readonly detail: string;
  /** The goal of issue 17, as a predicate and in words. */
  readonly ok: (ratio: number) => boolean;
  readonly goal: string;
}

function httpRatio(r: BenchReport, caseName: string, skein: string, baseline: string): HttpCase['ratios'][number] | undefined {
  const c = r.http?.cases.find((x) => x.name === caseName);
  return c?.ratios.find((x) => x.skein.includes(skein) && x.baseline.includes(baseline));
}

/** The figures the performance goals are judged by, each a ratio from alternating rounds of the same run. */
function headlines(r: BenchReport): Headline[] {
  const rows: Headline[] = [];
  const n = Math.max(...r.workers);
  for (const [connections, pipeline, busy, goalThroughput, goalCpu] of [
    [50, 1, false, 0.97, 1.03],
    [50, 1, true, 0.97, 1.03],
    [16, 16, false, 0.98, 1.02],
    [16, 16, true, 0.98, 1.02],
  ] as const) {
    const c = r.throughput.find((x) => x.protocol === 'lines' && x.workers === n && x.connections === connections && x.pipeline === pipeline && !!x.busyNeighbour === busy);
    if (!c) continue;
    const label = `\`lines\` ×${n}, ${connections} conns, depth ${pipeline}${busy ? ', busy neighbour' : ''}`;
    rows.push({
      measure: `${label}: throughput ÷ node:cluster (node:net)`,
      ratio: c.ratio,
      spread: range(c.ratioRange),
      detail: `${int.format(c.skein.throughput)} vs ${int.format(c.baseline.throughput)} replies/s`,
      ok: (x) => x >= goalThroughput,
      goal: `≥ ${goalThroughput}`,
    });
    rows.push({
      measure: `${label}: server CPU per reply ÷ node:cluster`,
      ratio: c.cpuRatio,
      spread: range(c.cpuRatioRange),
      detail: `${c.skein.cpuPerRequestUs} vs ${c.baseline.cpuPerRequestUs} µs`,
      ok: (x) => x <= goalCpu,
      goal: `≤ ${goalCpu}`,
    });
  }
  const http = (measure: string, caseName: string, skein: string, baseline: string, goal: string, ok: (x: number) => boolean) => {
    const ratio = httpRatio(r, caseName, skein, baseline);
    const c = r.http?.cases.find((x) => x.name === caseName);
    if (!ratio || !c) return;
    const side = (name: string) => c.sides.find((x) => x.server === name);
    const a = side(ratio.skein);
    const b = side(ratio.baseline);
    rows.push({
      measure,
      ratio: ratio.median,
      spread: `${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}`,
      detail: a && b ? `${int.format(a.rps)} vs ${int.format(b.rps)} req/s; ${a.cpuPerRequestUs} vs ${b.cpuPerRequestUs} µs CPU/req` : '',
      ok,
      goal,
    });
  };
  http('`http` keep-alive GET, wrk, depth 1: ÷ node:http', 'keep-alive depth 1', 'skein', 'node:http', '≥ 1.5', (x) => x >= 1.5);
  http('`http` keep-alive GET, wrk, depth 1: ÷ nginx', 'keep-alive depth 1', 'skein', 'nginx', '≥ 0.8', (x) => x >= 0.8);
  http('`http` keep-alive GET, wrk, depth 10: ÷ node:http', 'keep-alive depth 10', 'skein', 'node:http', '> 1 (keep the lead)', (x) => x > 1);
  http('`http` keep-alive GET, wrk, depth 10: ÷ nginx', 'keep-alive depth 10', 'skein', 'nginx', '(shown)', () => true);
  http('`Connection: close`, skein shared-socket ÷ node:http round-robin', 'Connection: close', 'shared-socket', 'node:http ×' + n, '≥ 1.8', (x) => x >= 1.8);
  http('`Connection: close`, skein shared-socket ÷ nginx', 'Connection: close', 'shared-socket', 'nginx', '≥ 0.5', (x) => x >= 0.5);
  http('`Connection: close`, skein round-robin ÷ node:http round-robin', 'Connection: close', 'round-robin', 'node:http ×' + n, '≥ 0.95', (x) => x >= 0.95);
  const spread = r.http?.cases.find((x) => x.name === 'Connection: close')?.spread ?? [];
  const shared = spread.find((x) => x.policy === 'shared-socket');
  const rr = spread.find((x) => x.policy === 'round-robin');
  if (shared) {
    rows.push({
      measure: '`Connection: close`, connections per worker max/min: shared-socket (round-robin beside)',
      ratio: shared.maxOverMin,
      spread: '',
      detail: `shared-socket ${shared.perWorker.join(' / ')}${rr ? `; round-robin ${rr.perWorker.join(' / ')} (${rr.maxOverMin})` : ''}`,
      ok: () => true,
      goal: '(shown)',
    });
  }
  if (r.scrape) {
    rows.push({
      measure: 'scrape of /metrics with one worker stopped (SIGSTOP), ms',
      ratio: r.scrape.stoppedMedianMs,
      spread: `${Math.min(...r.scrape.stoppedMs)}–${r.scrape.stoppedMaxMs}`,
      detail: `all workers live: ${r.scrape.liveMedianMs} ms; stopped worker marked stale: ${r.scrape.markedStale ? 'yes' : 'no'}`,
      ok: (x) => x < STOPPED_SCRAPE_TARGET_MS && r.scrape!.markedStale,
      goal: `< ${STOPPED_SCRAPE_TARGET_MS} ms`,
    });
  }
  return rows;
}

/** The Markdown summary written beside the JSON. */
export function renderMarkdown(r: BenchReport): string {
  const m = r.machine;
  const out: string[] = [
    `# skein benchmarks, ${r.date.slice(0, 10)}`,
    '',
    `Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}; load average ${m.loadAverageAtStart.join(' ')} at the start${m.loadAverageAtEnd ? `, ${m.loadAverageAtEnd.join(' ')} at the end` : ''}.`,
    `Load generators, native, on the same host: \`bench/native/line-load.c\` (one thread, epoll, compiled with \`cc -O2\`) for the TCP protocols, wrk (one thread per core) for HTTP, autocannon beside it. Command: \`${r.command}\`.`,
    `Settings: ${JSON.stringify(r.settings)}.`,
    '',
  ];
  const heads = headlines(r);
  if (heads.length > 0) {
    out.push(
      '## Ratios (skein ÷ baseline, median of the per-round ratios; alternating rounds in this run)',
      '',
      '| measure | ratio | rounds\' range | figures (medians) | goal | met |',
      '|---|---|---|---|---|---|',
      ...heads.map((h) => `| ${h.measure} | **${h.ratio === undefined ? '-' : h.ratio.toFixed(h.ratio > 10 ? 1 : 3)}** | ${h.spread} | ${h.detail} | ${h.goal} | ${h.ratio === undefined ? '-' : h.ok(h.ratio) ? 'yes' : 'no'} |`),
      '',
      'Baselines: `lines` hand-written on node:net under node:cluster with the same worker count (bench/baselines/net-server.ts); node:http under node:cluster (bench/baselines/node-http-cluster.ts, round-robin or SCHED_NONE); nginx with the same worker count (bench/baselines/nginx.conf), all answering the same bytes.',
      'A busy neighbour is a CPU-bound `node -e \'for(;;){}\'` running through both sides of the round.',
      '',
    );
  }
  const targets: string[] = [];
  if (r.throughput.length > 0) {
    out.push(
      '## TCP protocols: skein against hand-written node:net (line-load)',
      '',
      'Baseline for 1 worker: the protocol hand-written on node:net in one process; for N workers: the same under node:cluster with N workers.',
      'Each row: medians of the rounds; the two ratios are medians of per-round ratios (skein and baseline back to back, alternating which goes first).',
      '`server CPU µs/req` is the CPU time (user + system, all of the server\'s processes, from /proc) per reply over the steady state (read when the',
      'generator reports its window open and closed, so connecting and closing are left out): unlike throughput it hardly moves when other work on',
      'the host steals the cores, so it is the overhead figure to trust on a shared machine. Latency is a closed loop (coordinated omission applies).',
      '`load-gen CPU` is the load generator\'s own CPU during the skein runs (percent of one core). Ratios are followed by the range of the per-round ratios.',
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
  if (r.http) {
    out.push('## HTTP: skein against node:http and nginx (wrk)', '', ...httpMarkdown(r.http));
    if (httpChartOf(r)) out.push('![skein http vs node:http and nginx](http.svg)', '');
  }
  if (r.scrape) {
    const sc = r.scrape;
    out.push(
      '## Scrape with a stopped worker',
      '',
      `\`lines\` ×${sc.workers}, metrics on; ${sc.rounds} scrapes each. All workers live: ${sc.liveMs.join(', ')} ms. Worker 0 stopped (SIGSTOP): ${sc.stoppedMs.join(', ')} ms; marked \`skein_worker_stale{worker="0"} 1\` in every one: ${sc.markedStale ? 'yes' : 'no'}.`,
      '',
    );
  }
  for (const hook of r.hooks) {
    out.push(`## bench/${hook.name}.ts`, '', `Exit code ${hook.exitCode}. Last lines of its output:`, '', '```', hook.outputTail, '```', '');
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

/** skein's `http` against node:http and nginx, N workers each: req/s per case (wrk). */
export function httpChartOf(report: BenchReport): string | undefined {
  const cases = report.http?.cases.filter((c) => c.tool === 'wrk' && !c.close) ?? [];
  if (cases.length === 0) return undefined;
  const pick = (c: HttpCase, prefix: string) => c.sides.find((s) => s.server.startsWith(prefix))?.rps ?? 0;
  const groups: BarGroup[] = cases.map((c) => {
    const node = httpRatio(report, c.name, 'skein', 'node:http');
    const nginx = httpRatio(report, c.name, 'skein', 'nginx');
    return {
      label: `wrk\n${c.name}`,
      note: [node ? `${node.median.toFixed(2)}× node` : '', nginx ? `${nginx.median.toFixed(2)}× nginx` : ''].filter(Boolean).join(', ') || undefined,
      values: [pick(c, 'skein'), pick(c, 'node:http'), pick(c, 'nginx')],
    };
  });
  const m = report.machine;
  const workers = report.workers[report.workers.length - 1] ?? 1;
  return barChart(
    `http: skein vs node:http and nginx, ${workers} workers each`,
    `${m.cores} cores (${m.cpu}), Node ${m.node}, load generator on the same host; ${report.date.slice(0, 10)}`,
    [
      { label: 'skein http', color: '#1f6feb' },
      { label: 'node:http (node:cluster)', color: '#8c959f' },
      { label: 'nginx', color: '#2da44e' },
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
