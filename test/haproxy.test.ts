import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aptBinary } from './helpers/apt-binary.js';
import { connectClient } from './helpers/client.js';
import { eventually, freePort, startServer, type StartedServer } from './helpers/server.js';

const PEER_ECHO = fileURLToPath(new URL('./fixtures/peer-echo.ts', import.meta.url));

/** One request through HAProxy from `localAddress`: greeting, echo, close. Never retried. */
async function request(port: number, localAddress: string): Promise<{ peer: string; pid: number }> {
  const c = await connectClient(port, '127.0.0.1', localAddress);
  const text = await c.waitFor((t) => t.includes('\n'));
  const match = /^peer (\S+) pid (\d+)\n/.exec(text);
  if (!match) throw new Error(`unexpected greeting ${JSON.stringify(text)}`);
  c.write('ping\n');
  await c.waitFor((t) => t.endsWith('ping\n'));
  c.end();
  await c.closed();
  return { peer: match[1]!, pid: Number(match[2]) };
}

const haproxyBin = aptBinary('haproxy', 'haproxy');

describe.runIf(haproxyBin !== undefined)('HAProxy in front of two skein servers (send-proxy-v2, /readyz checks)', () => {
  const servers: StartedServer[] = [];
  let haproxy: ChildProcess;
  let port: number;

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      servers.push(
        await startServer([
          PEER_ECHO,
          '--listen',
          'tcp:0:interface=127.0.0.1:proxy=v2',
          '--workers',
          '1',
          '--metrics-port',
          String(await freePort()),
          '--shutdown-timeout',
          '5',
          // HAProxy checks /readyz every 200 ms: it stops sending before the port closes.
          '--shutdown-delay',
          '1',
        ]),
      );
    }
    port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'skein-haproxy-'));
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(
      cfg,
      `global
    maxconn 1000
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
frontend fe
    bind 127.0.0.1:${port}
    default_backend be
backend be
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server send-proxy-v2 inter 200ms fall 1 rise 1
${servers.map((s, i) => `    server s${i} 127.0.0.1:${s.port} check port ${s.metricsPort}`).join('\n')}
`,
    );
    haproxy = spawn(haproxyBin!, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Both servers up: requests reach both worker pids.
    await eventually(async () => {
      const pids = new Set<number>();
      for (let i = 0; i < 6; i++) pids.add((await request(port, '127.0.0.1')).pid);
      return pids.size === 2;
    }, 20_000, 200);
  });

  afterAll(async () => {
    haproxy?.kill('SIGTERM');
    for (const s of servers) await s.stop();
  });

  it('delivers the client address intact and spreads requests over both servers', async () => {
    const pids = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const r = await request(port, '127.0.0.9');
      expect(r.peer).toMatch(/^127\.0\.0\.9:\d+$/);
      pids.add(r.pid);
    }
    expect(pids).toEqual(new Set(servers.flatMap((s) => s.pids)));
  });

  it('SIGTERM on one server drains it and HAProxy moves traffic to the other with no failed request', async () => {
    const [victim, survivor] = servers as [StartedServer, StartedServer];
    let failures = 0;
    let done = 0;
    const seen: number[] = [];
    let stop = false;
    const loops = Array.from({ length: 4 }, async () => {
      while (!stop) {
        try {
          seen.push((await request(port, '127.0.0.1')).pid);
          done++;
        } catch (error) {
          failures++;
          console.log('request failed', Date.now(), (error as Error).message);
        }
      }
    });
    await eventually(() => done >= 20);
    console.log('SIGTERM', Date.now());
    const exited = victim.stop('SIGTERM');
    expect(await exited).toBe(0);
    const afterExit = seen.length;
    await eventually(() => seen.length >= afterExit + 20);
    stop = true;
    await Promise.all(loops);
    expect(failures).toBe(0);
    expect(seen.slice(afterExit).every((pid) => survivor.pids.includes(pid))).toBe(true);
  });
});
