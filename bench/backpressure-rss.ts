/**
 * Worker memory while a client stops reading and the server streams to it.
 *
 * skein's water marks (the producer is paused at --high-water-mark) against the
 * same producer ignoring pauses (what a server without backpressure does),
 * alternating rounds. Measures the worker's VmRSS from /proc before the stream
 * and once production stops (or after the full stream was buffered).
 *
 *   npm run build && node --import tsx bench/backpressure-rss.ts [rounds] [MiB]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { connectClient } from '../test/helpers/client.js';
import { eventually, startServer } from '../test/helpers/server.js';

const FIXTURE = fileURLToPath(new URL('../test/fixtures/streaming-producer.ts', import.meta.url));
const ROUNDS = Number(process.argv[2] ?? 3);
const TOTAL = Number(process.argv[3] ?? 128) * 1024 * 1024;
const MiB = 1024 * 1024;

function rss(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
}

interface Round {
  variant: string;
  rssBeforeMiB: number;
  rssStalledMiB: number;
  growthMiB: number;
  producedMiB: number;
}

async function round(variant: 'water-marks' | 'ignore-pause'): Promise<Round> {
  const args = [FIXTURE, '--port', '0', '--workers', '1', '--metrics-port', '0'];
  if (variant === 'ignore-pause') args.push('--option', 'ignorePause=1');
  const server = await startServer(args);
  try {
    const pid = server.pids[0]!;
    const control = await connectClient(server.port);
    let asked = 0;
    const stats = async () => {
      asked++;
      control.write('stats\r\n');
      const text = await control.waitFor((t) => t.split('\r\n').length - 1 >= asked);
      return JSON.parse(text.split('\r\n')[asked - 1]!) as { produced: number; paused: boolean };
    };
    await new Promise((r) => setTimeout(r, 300));
    const before = rss(pid);
    const reader = connect({ port: server.port, host: '127.0.0.1' });
    await once(reader, 'connect');
    reader.pause();
    reader.write(`stream ${TOTAL}\r\n`);
    // Production stops: paused at the high-water mark, or everything was written into the socket's buffer.
    let last = -1;
    const s = await eventually(async () => {
      const now = await stats();
      const settled = now.produced === last && (now.paused || now.produced === TOTAL);
      last = now.produced;
      return settled ? now : undefined;
    }, 60_000, 300);
    const stalled = rss(pid);
    reader.destroy();
    control.end();
    return {
      variant,
      rssBeforeMiB: before / MiB,
      rssStalledMiB: stalled / MiB,
      growthMiB: (stalled - before) / MiB,
      producedMiB: s.produced / MiB,
    };
  } finally {
    await server.stop();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const rounds: Round[] = [];
for (let i = 0; i < ROUNDS; i++) {
  for (const v of ['water-marks', 'ignore-pause'] as const) {
    const r = await round(v);
    rounds.push(r);
    console.log(`${v.padEnd(13)} RSS ${r.rssBeforeMiB.toFixed(1)} → ${r.rssStalledMiB.toFixed(1)} MiB (+${r.growthMiB.toFixed(1)}), produced ${r.producedMiB.toFixed(1)} MiB`);
  }
}
const summary = Object.fromEntries(
  (['water-marks', 'ignore-pause'] as const).map((v) => {
    const rs = rounds.filter((r) => r.variant === v);
    return [v, { medianGrowthMiB: median(rs.map((r) => r.growthMiB)), medianProducedMiB: median(rs.map((r) => r.producedMiB)) }];
  }),
);
console.log('median worker RSS growth while the client does not read:', summary);
const result = {
  bench: 'backpressure-rss',
  date: new Date().toISOString(),
  machine: { cores: availableParallelism(), node: process.version },
  streamMiB: TOTAL / MiB,
  highWaterMark: 65536,
  rounds,
  summary,
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/backpressure-rss.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
