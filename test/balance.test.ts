import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeProxyV1 } from '../src/shared/net/proxy-protocol.js';
import { connectClient, scrape, sumSeries, type TestClient } from './helpers/client.js';
import { eventually, freePort, runToExit, startServer, type StartedServer } from './helpers/server.js';
import { makeCerts } from './helpers/tls.js';

const WELCOME = 'Welcome to my network application!\r\n';
const PEER_ECHO = fileURLToPath(new URL('./fixtures/peer-echo.ts', import.meta.url));
const SLOW_START = fileURLToPath(new URL('./fixtures/slow-start.ts', import.meta.url));

async function perWorker(server: StartedServer): Promise<Map<string, number>> {
  const m = await scrape(server.metricsPort!);
  const out = new Map<string, number>();
  for (const [key, value] of m) {
    const match = /^skein_worker_connections_active\{.*worker="(\d+)"/.exec(key);
    if (match) out.set(match[1]!, value);
  }
  return out;
}

async function open(port: number, n: number, localAddress?: string): Promise<TestClient[]> {
  const clients: TestClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = await connectClient(port, '127.0.0.1', localAddress);
    await c.waitFor((t) => t.startsWith(WELCOME));
    clients.push(c);
  }
  return clients;
}

describe('--balance least-connections', () => {
  let server: StartedServer;
  beforeAll(async () => {
    server = await startServer(['processed', '--port', '0', '--workers', '1', '--balance', 'least-connections', '--metrics-port', String(await freePort())]);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('new connections go to the emptier workers until the counts even out', async () => {
    const first = await open(server.port, 100);
    await eventually(async () => (await perWorker(server)).get('0') === 100);
    // One signal at a time: the kernel merges a signal sent while the same one is still pending.
    for (const alive of [2, 3]) {
      process.kill(server.child.pid!, 'SIGTTIN');
      await eventually(async () => sumSeries(await scrape(server.metricsPort!), 'skein_workers_alive') === alive);
    }
    const second = await open(server.port, 100);
    const counts = await eventually(async () => {
      const c = await perWorker(server);
      return [...c.values()].reduce((a, b) => a + b, 0) === 200 ? c : undefined;
    });
    expect(counts.get('0')).toBe(100);
    expect(counts.get('1')).toBe(50);
    expect(counts.get('2')).toBe(50);
    for (const c of [...first, ...second]) c.end();
  });
});

describe('--balance shared-socket (workers accept from the shared socket)', () => {
  let server: StartedServer;
  beforeAll(async () => {
    // A PROXY endpoint with a per-IP limit: allowed, since the workers (which read the header) accept.
    server = await startServer([
      'processed',
      '--listen',
      'tcp:0',
      '--listen',
      'tcp:0:proxy=v1',
      '--workers',
      '2',
      '--balance',
      'shared-socket',
      '--max-connections-per-ip',
      '50',
      '--metrics-port',
      String(await freePort()),
    ]);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('serves every connection, each counted by the worker that accepted it', async () => {
    const clients = await open(server.port, 40);
    for (const [i, c] of clients.entries()) {
      c.write(`n${i}`);
      await c.waitFor((t) => t.endsWith(`Processed: n${i}`));
    }
    const counts = await eventually(async () => {
      const c = await perWorker(server);
      return [...c.values()].reduce((a, b) => a + b, 0) === 40 ? c : undefined;
    });
    expect([...counts.keys()].every((w) => w === '0' || w === '1')).toBe(true);
    for (const c of clients) c.end();
    await Promise.all(clients.map((c) => c.closed()));
  });

  it('reads the PROXY header in the worker, so the real client address is the one limited', async () => {
    const proxied = server.endpoints.find((e) => e.endpoint.includes('proxy'))!.port!;
    const c = await connectClient(proxied);
    c.write(encodeProxyV1({ host: '192.0.2.7', port: 4000 }, { host: '127.0.0.1', port: proxied }));
    await c.waitFor((t) => t.startsWith(WELCOME));
    c.end();
    await c.closed();
  });
});

describe('--balance client-hash', () => {
  const marker = join(mkdtempSync(join(tmpdir(), 'skein-hash-')), 'slow');
  let server: StartedServer;
  beforeAll(async () => {
    server = await startServer([SLOW_START, '--port', '0', '--workers', '3', '--balance', 'client-hash', '--metrics-port', String(await freePort())], {
      env: { SLOW_START_MARKER: marker },
    });
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  /** Opens `n` connections from `address`, and returns the one worker slot they all landed on. */
  async function landing(address: string, n: number): Promise<{ slot: string; clients: TestClient[] }> {
    const before = await perWorker(server);
    const clients = await open(server.port, n, address);
    const counts = await eventually(async () => {
      const c = await perWorker(server);
      const added = [...c].map(([slot, v]) => [slot, v - (before.get(slot) ?? 0)] as const);
      return added.reduce((sum, [, v]) => sum + v, 0) === n ? added : undefined;
    });
    const busy = counts.filter(([, v]) => v > 0);
    expect(busy).toHaveLength(1);
    return { slot: busy[0]![0], clients };
  }

  it('keeps each client address on one worker, and on one other worker after that one dies', async () => {
    const two = await landing('127.0.0.2', 12);
    const three = await landing('127.0.0.3', 12);
    // The worker of 127.0.0.2 dies; its replacement is slow to start, so its slot stays empty a while.
    writeFileSync(marker, '');
    const victim = server.pids[Number(two.slot)]!;
    process.kill(victim, 'SIGKILL');
    await Promise.all(two.clients.map((c) => c.closed()));
    await eventually(async () => sumSeries(await scrape(server.metricsPort!), 'skein_workers_alive') === 2);
    const moved = await landing('127.0.0.2', 12);
    expect(moved.slot).not.toBe(two.slot);
    // 127.0.0.3's worker lives: its clients did not move.
    const stayed = await landing('127.0.0.3', 4);
    expect(stayed.slot).toBe(three.slot);
    rmSync(marker);
    for (const c of [...three.clients, ...moved.clients, ...stayed.clients]) c.end();
  });
});

describe('cluster-wide limits', () => {
  it('--max-connections N: the first N are served, the N+1th is refused and counted', async () => {
    const server = await startServer(['processed', '--port', '0', '--workers', '2', '--balance', 'least-connections', '--max-connections', '5', '--metrics-port', String(await freePort())]);
    try {
      const ok = await open(server.port, 5);
      const extra = await connectClient(server.port);
      await extra.closed();
      expect(extra.received()).toBe('');
      await eventually(async () => sumSeries(await scrape(server.metricsPort!), 'skein_connections_rejected_total', 'reason="max_connections"') === 1);
      ok[0]!.write('x');
      await ok[0]!.waitFor((t) => t.endsWith('Processed: x'));
      for (const c of ok) c.end();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('--max-connections-per-ip N: whole server, enforced in the primary before a worker pays for it', async () => {
    const server = await startServer(['processed', '--port', '0', '--workers', '2', '--balance', 'least-connections', '--max-connections-per-ip', '2', '--metrics-port', String(await freePort())]);
    try {
      const mine = await open(server.port, 2, '127.0.0.4');
      const extra = await connectClient(server.port, '127.0.0.1', '127.0.0.4');
      await extra.closed();
      expect(extra.received()).toBe('');
      const other = await open(server.port, 1, '127.0.0.5');
      await eventually(async () => sumSeries(await scrape(server.metricsPort!), 'skein_connections_rejected_total', 'reason="max_connections_per_ip"') === 1);
      for (const c of [...mine, ...other]) c.end();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('connections waiting for a worker count against the per-IP and whole-server limits (issue 15, case 9)', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'skein-held-')), 'slow');
    writeFileSync(marker, '');
    const port = await freePort();
    // Workers take 4 s to load: the primary accepts (and holds) connections meanwhile.
    const starting = startServer(
      [SLOW_START, '--port', String(port), '--workers', '1', '--balance', 'least-connections', '--max-connections-per-ip', '8', '--max-connections', '10', '--metrics-port', String(await freePort())],
      { env: { SLOW_START_MARKER: marker } },
    );
    const early: TestClient[] = [];
    await eventually(async () => {
      early.push(await connectClient(port, '127.0.0.1', '127.0.0.6'));
      return true;
    });
    while (early.length < 12) early.push(await connectClient(port, '127.0.0.1', '127.0.0.6'));
    const others: TestClient[] = [];
    for (let i = 0; i < 3; i++) others.push(await connectClient(port, '127.0.0.1', '127.0.0.7'));
    const server = await starting;
    try {
      const served = (cs: TestClient[]) => cs.filter((c) => c.received().startsWith(WELCOME)).length;
      await eventually(() => served(early) === 8 && served(others) === 2);
      const refused = await Promise.all(early.filter((c) => c.received() === '').map((c) => c.closed()));
      expect(refused).toHaveLength(4);
      const m = await scrape(server.metricsPort!);
      expect(sumSeries(m, 'skein_connections_rejected_total', 'reason="max_connections_per_ip"')).toBe(4);
      expect(sumSeries(m, 'skein_connections_rejected_total', 'reason="max_connections"')).toBe(1);
      for (const c of [...early, ...others]) c.end();
    } finally {
      rmSync(marker);
      expect(await server.stop()).toBe(0);
    }
  });

  it('refuses at start-up a policy that cannot combine with a PROXY endpoint', async () => {
    const { code, stderr } = await runToExit(['serve', '--listen', 'tcp:0:proxy=v2', '--balance', 'client-hash', '--metrics-port', '0']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--balance client-hash cannot be combined with the PROXY endpoint 'tcp:0:proxy=v2'/);
    const bad = await runToExit(['serve', '--balance', 'fastest', '--metrics-port', '0']);
    expect(bad.stderr).toMatch(/--balance must be one of round-robin, shared-socket, least-connections, client-hash \(got 'fastest'\)/);
  });
});

describe('--balance least-connections with TLS and PROXY endpoints, through a rolling reload', () => {
  it('serves every request with no error while every worker is replaced', async () => {
    const certs = makeCerts();
    const server = await startServer([
      PEER_ECHO,
      '--listen',
      `tls:0:interface=127.0.0.1:key=${certs.key}:cert=${certs.cert}:proxy=v1`,
      '--workers',
      '2',
      '--balance',
      'least-connections',
      '--metrics-port',
      String(await freePort()),
    ]);
    try {
      let failures = 0;
      let answered = 0;
      let stop = false;
      const one = async (i: number) => {
        const raw = connect({ host: '127.0.0.1', port: server.port });
        raw.on('error', () => {});
        await once(raw, 'connect');
        raw.write(encodeProxyV1({ host: '192.0.2.1', port: 1000 + i }, { host: '127.0.0.1', port: server.port }));
        const tls = tlsConnect({ socket: raw, ca: certs.caPem, servername: 'localhost' });
        let text = '';
        tls.on('data', (c: Buffer) => (text += c.toString()));
        await once(tls, 'secureConnect');
        await eventually(() => text.includes('\n'), 10_000, 5);
        if (!text.startsWith(`peer 192.0.2.1:${1000 + i} `)) throw new Error(`bad greeting ${text}`);
        tls.write('x\n');
        await eventually(() => text.endsWith('x\n'), 10_000, 5);
        tls.end();
      };
      const loops = Array.from({ length: 3 }, async (_, l) => {
        for (let i = l; !stop; i += 3) {
          try {
            await one(i % 50000);
            answered++;
          } catch (error) {
            failures++;
            console.log('request failed:', (error as Error).message);
          }
        }
      });
      await eventually(() => answered >= 10);
      const before = [...server.pids];
      process.kill(server.child.pid!, 'SIGHUP');
      await server.waitForLog((l) => String(l.msg).startsWith('reload complete'), 60_000);
      const after = answered;
      await eventually(() => answered >= after + 10);
      stop = true;
      await Promise.all(loops);
      expect(failures).toBe(0);
      const m = await scrape(server.metricsPort!);
      expect(sumSeries(m, 'skein_connections_total')).toBeGreaterThanOrEqual(answered);
      expect(before.length).toBe(2);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
