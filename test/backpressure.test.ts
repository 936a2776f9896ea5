import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type TestClient } from './helpers/client.js';
import { eventually, startServer, type StartedServer } from './helpers/server.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/streaming-producer.ts', import.meta.url));
const TOTAL = 128 * 1024 * 1024; // bytes the producer is asked to stream
const MiB = 1024 * 1024;

interface Stats {
  pauses: number;
  resumes: number;
  produced: number;
  paused: boolean;
  done: number;
}

/** The worker's resident set size in bytes, from /proc. */
function rss(pid: number): number {
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

describe('a client that stops reading while the server streams', () => {
  let server: StartedServer;
  let control: TestClient;
  beforeAll(async () => {
    server = await startServer([FIXTURE, '--port', '0', '--workers', '1', '--metrics-port', '0']);
    control = await connectClient(server.port);
  });
  afterAll(async () => {
    control.end();
    expect(await server.stop()).toBe(0);
  });

  let asked = 0;
  async function stats(): Promise<Stats> {
    asked++;
    control.write('stats\r\n');
    const text = await control.waitFor((t) => t.split('\r\n').length - 1 >= asked);
    return JSON.parse(text.split('\r\n')[asked - 1]!) as Stats;
  }

  it('pauses the producer at the high-water mark, keeps worker memory bounded, and resumes it when the client reads', async () => {
    const pid = server.pids[0]!;
    const rssBefore = rss(pid);
    const reader = connect({ port: server.port, host: '127.0.0.1' });
    await once(reader, 'connect');
    reader.pause(); // read nothing: the kernel buffers fill, then the worker's
    reader.write(`stream ${TOTAL}\r\n`);

    const stalled = await eventually(async () => {
      const s = await stats();
      return s.paused && s.pauses >= 1 ? s : undefined;
    });
    // Nothing more is produced while the client does not read.
    await new Promise((r) => setTimeout(r, 500));
    const still = await stats();
    const rssStalled = rss(pid);
    expect(still.produced).toBe(stalled.produced);
    expect(still.paused).toBe(true);
    // Produced: what the kernel socket buffers hold plus at most the high-water mark, far below what was asked.
    expect(stalled.produced).toBeLessThan(TOTAL / 4);
    expect(rssStalled - rssBefore).toBeLessThan(32 * MiB);

    let received = 0;
    reader.on('data', (chunk: Buffer) => (received += chunk.length));
    reader.resume();
    await eventually(() => received === TOTAL, 60_000);
    const after = await eventually(async () => {
      const s = await stats();
      return s.done === 1 ? s : undefined;
    });
    expect(after.resumes).toBeGreaterThanOrEqual(1);
    expect(after.produced).toBe(TOTAL);
    console.log(
      `backpressure: worker VmRSS ${(rssBefore / MiB).toFixed(1)} MiB before, ${(rssStalled / MiB).toFixed(1)} MiB while the client ` +
        `did not read (${(stalled.produced / MiB).toFixed(1)} of ${TOTAL / MiB} MiB produced), ${(rss(pid) / MiB).toFixed(1)} MiB after; ` +
        `${after.pauses} pauses, ${after.resumes} resumes`,
    );
    reader.end();
  });
});
