import { once } from 'node:events';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeProxyV1, encodeProxyV2 } from '../src/shared/net/proxy-protocol.js';
import { connectClient, scrape, sumSeries } from './helpers/client.js';
import { eventually, freePort, runToExit, startServer, type StartedServer } from './helpers/server.js';
import { makeCerts, type TestCerts } from './helpers/tls.js';

const PEER_ECHO = fileURLToPath(new URL('./fixtures/peer-echo.ts', import.meta.url));

describe('tls: endpoint', () => {
  let certs: TestCerts;
  let server: StartedServer;
  beforeAll(async () => {
    certs = makeCerts();
    server = await startServer([
      PEER_ECHO,
      '--listen',
      `tls:0:interface=127.0.0.1:key=${certs.key}:cert=${certs.cert}`,
      '--workers',
      '1',
      '--metrics-port',
      String(await freePort()),
    ]);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('a client that verifies the server certificate talks to the protocol', async () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: server.port, ca: certs.caPem, servername: 'localhost' });
    await once(socket, 'secureConnect');
    expect(socket.authorized).toBe(true);
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString()));
    socket.write('secret\n');
    await eventually(() => text.includes('secret\n'));
    expect(text).toMatch(/^peer 127\.0\.0\.1:\d+ pid \d+\n/);
    socket.end();
  });

  it('a plain-text client on the TLS port fails cleanly and is counted', async () => {
    const plain = await connectClient(server.port);
    plain.write('GET / HTTP/1.1\r\n\r\n');
    await plain.closed();
    const m = await eventually(async () => {
      const metrics = await scrape(server.metricsPort!);
      return sumSeries(metrics, 'skein_protocol_errors_total', 'code="SKEIN_ERR_TLS_HANDSHAKE"') >= 1 ? metrics : undefined;
    });
    expect(sumSeries(m, 'skein_workers_alive')).toBe(1);
  });

  it('a missing certificate file fails at start-up with one line naming it', async () => {
    const { code, stderr } = await runToExit(['serve', PEER_ECHO, '--listen', 'tls:0:key=/nope.key:cert=/nope.crt', '--workers', '1', '--metrics-port', '0']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot read key file '\/nope.key'/);
  });
});

describe('PROXY protocol endpoint', () => {
  let server: StartedServer;
  beforeAll(async () => {
    server = await startServer([
      PEER_ECHO,
      '--listen',
      'tcp:0:interface=127.0.0.1:proxy=any',
      '--workers',
      '1',
      '--metrics-port',
      String(await freePort()),
    ]);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('v1: getPeer() is the original client already in connectionMade; bytes after the header reach the protocol', async () => {
    const c = await connectClient(server.port);
    c.write(Buffer.concat([encodeProxyV1({ host: '203.0.113.7', port: 4242 }, { host: '127.0.0.1', port: server.port }), Buffer.from('after\n')]));
    await c.waitFor((t) => t === `peer 203.0.113.7:4242 pid ${server.pids[0]}\nafter\n`);
    c.end();
  });

  it('v2 over IPv6, header split over several writes', async () => {
    const c = await connectClient(server.port);
    const header = encodeProxyV2({ host: '2001:db8::1', port: 1111 }, { host: '2001:db8::2', port: 443 });
    c.write(header.subarray(0, 5));
    await new Promise((r) => setTimeout(r, 20));
    c.write(header.subarray(5));
    await c.waitFor((t) => t.startsWith('peer [2001:db8::1]:1111'));
    c.end();
  });

  it('v2 LOCAL (a health check) keeps the real peer', async () => {
    const c = await connectClient(server.port);
    c.write(encodeProxyV2());
    await c.waitFor((t) => /^peer 127\.0\.0\.1:\d+/.test(t));
    c.end();
  });

  it('a missing or malformed header closes the connection and is counted; others are unaffected', async () => {
    const good = await connectClient(server.port);
    good.write(encodeProxyV1({ host: '198.51.100.1', port: 1 }, { host: '127.0.0.1', port: 2 }));
    await good.waitFor((t) => t.startsWith('peer 198.51.100.1:1'));
    const bad = await connectClient(server.port);
    bad.write('GET / HTTP/1.1\r\n\r\n');
    await bad.closed();
    expect(bad.received()).toBe('');
    good.write('ok\n');
    await good.waitFor((t) => t.endsWith('ok\n'));
    await eventually(async () =>
      sumSeries(await scrape(server.metricsPort!), 'skein_connections_rejected_total', 'reason="proxy_header"') >= 1,
    );
    good.end();
  });
});

describe('PROXY protocol trust list', () => {
  it('closes headers from a source outside trusted= and counts them', async () => {
    const server = await startServer([
      PEER_ECHO,
      '--listen',
      'tcp:0:interface=127.0.0.1:proxy=v1:trusted=10.0.0.0/8',
      '--workers',
      '1',
      '--metrics-port',
      String(await freePort()),
    ]);
    try {
      const c = await connectClient(server.port);
      c.write(encodeProxyV1({ host: '203.0.113.7', port: 1 }, { host: '127.0.0.1', port: 2 }));
      await c.closed();
      expect(c.received()).toBe('');
      await eventually(async () =>
        sumSeries(await scrape(server.metricsPort!), 'skein_connections_rejected_total', 'reason="proxy_header"') === 1,
      );
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('a malformed endpoint fails at start-up naming the bad part', async () => {
    const { code, stderr } = await runToExit(['serve', '--listen', 'tcp:0:proxy=v3', '--metrics-port', '0']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/proxy must be v1, v2 or any \(got 'v3'\)/);
    const second = await runToExit(['serve', '--listen', 'tcp:0:proxy=v1:trusted=10.0.0.0/99', '--metrics-port', '0']);
    expect(second.stderr).toMatch(/invalid CIDR '10.0.0.0\/99'/);
  });
});

describe('tls: certificate renewal', () => {
  it('SIGHUP (rolling reload) picks up a renewed certificate from disk', async () => {
    const first = makeCerts();
    const renewed = makeCerts();
    const dir = mkdtempSync(join(tmpdir(), 'skein-renew-'));
    const key = join(dir, 'server.key');
    const cert = join(dir, 'server.crt');
    copyFileSync(first.key, key);
    copyFileSync(first.cert, cert);
    const server = await startServer([PEER_ECHO, '--listen', `tls:0:interface=127.0.0.1:key=${key}:cert=${cert}`, '--workers', '1', '--metrics-port', '0']);
    const fingerprint = async (ca: Buffer) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: server.port, ca, servername: 'localhost' });
      await once(socket, 'secureConnect');
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      return fp;
    };
    try {
      const before = await fingerprint(first.caPem);
      copyFileSync(renewed.key, key);
      copyFileSync(renewed.cert, cert);
      process.kill(server.child.pid!, 'SIGHUP');
      await server.waitForLog((l) => String(l.msg).startsWith('reload complete'), 60_000);
      const after = await fingerprint(renewed.caPem);
      expect(after).not.toBe(before);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
