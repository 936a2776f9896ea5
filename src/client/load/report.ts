import type { LoadProgress, LoadResult } from './runner.js';

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** One progress line (stderr, once a second). */
export function formatProgress(p: LoadProgress): string {
  return `[${p.elapsed.toFixed(0).padStart(3)}s] ${int.format(p.rate).padStart(9)} req/s  ${int.format(p.completed).padStart(11)} replies  ${p.errors} errors`;
}

/** The human-readable summary printed at the end. */
export function formatResult(r: LoadResult): string {
  const l = r.latencyMs;
  return [
    `skein load: ${r.target}, ${r.framing} framing, ${r.connections} connections × pipeline ${r.pipeline}, ${r.payloadBytes}-byte payload, ${r.threads} threads${r.warmupSeconds > 0 ? `, after a ${r.warmupSeconds} s warm-up` : ''}`,
    `  ${int.format(r.requests)} replies in ${r.durationSeconds.toFixed(2)} s: ${int.format(r.throughput)} req/s`,
    `  latency ms  p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  max ${l.max}  (closed loop: coordinated omission applies)`,
    `  errors ${r.errors}${r.stalled ? ' (stalled: replies stopped coming)' : ''}; generator CPU ${r.cpu.percent}% of one core`,
  ].join('\n');
}
