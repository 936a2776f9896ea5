import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrape, sumSeries } from './helpers/client.js';
import { eventually, type StartedServer } from './helpers/server.js';
import { clientFrame, upgradeRequest } from './helpers/websocket.js';
import { closeWs, openWs, rawExchange, roundTrip, runPythonClient, startOnEveryEndpoint, WebSocket } from './helpers/ws-client.js';

describe('skein serve ws-echo (2 workers; tcp, tls and PROXY endpoints; permessage-deflate offered)', () => {
  let server: StartedServer;
  let tcp: number;
  let tls: number;
  let proxied: number;
  beforeAll(async () => {
    ({ server, tcp, tls, proxied } = await startOnEveryEndpoint('ws-echo', ['--option', 'perMessageDeflate=true', '--option', 'maxMessageBytes=65536']));
  });
  afterAll(async () => {
    if (server.child.exitCode === null) await server.stop();
  });

  it.each([false, true])('echoes text, binary and fragmented messages to ws clients on both workers (permessage-deflate: %s)', async (deflate) => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => openWs(`ws://127.0.0.1:${tcp}/echo`, { perMessageDeflate: deflate })));
    for (const ws of clients) {
      expect(ws.extensions).toBe(deflate ? 'permessage-deflate' : '');
      expect(await roundTrip(ws, 'héllo')).toEqual({ data: Buffer.from('héllo'), isBinary: false });
      const bytes = randomBytes(20_000);
      expect(await roundTrip(ws, bytes)).toEqual({ data: bytes, isBinary: true });
      const text = 'compressible '.repeat(2000);
      expect((await roundTrip(ws, text)).data.toString()).toBe(text);
      // A message in three frames.
      const whole = new Promise<Buffer>((resolve) => ws.once('message', (m: Buffer) => resolve(Buffer.from(m))));
      ws.send('part one, ', { fin: false });
      ws.send('part two, ', { fin: false });
      ws.send('the end', { fin: true });
      expect((await whole).toString()).toBe('part one, part two, the end');
    }
    expect((await Promise.all(clients.map((ws) => closeWs(ws, 1000, 'done')))).every((c) => c.code === 1000)).toBe(true);
    const metrics = await scrape(server.metricsPort!);
    const perWorker = [...metrics].filter(([k, v]) => k.startsWith('skein_worker_connections_total') && v > 0);
    expect(perWorker.length).toBe(2);
  });

  it('speaks wss on the TLS endpoint and WebSocket behind a PROXY v1 header', async () => {
    const secure = await openWs(`wss://127.0.0.1:${tls}/`, { rejectUnauthorized: false, perMessageDeflate: true });
    expect((await roundTrip(secure, 'over tls')).data.toString()).toBe('over tls');
    expect((await closeWs(secure)).code).toBe(1000);
    const behindProxy = await openWs(`ws://127.0.0.1:${proxied}/`, {
      createConnection: () => {
        const socket = connect({ port: proxied, host: '127.0.0.1' });
        socket.write('PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n');
        return socket;
      },
    });
    expect((await roundTrip(behindProxy, Buffer.from([1, 2, 3]))).data).toEqual(Buffer.from([1, 2, 3]));
    expect((await closeWs(behindProxy)).code).toBe(1000);
  });

  it.each([
    ['plain', [] as string[], () => tcp],
    ['permessage-deflate', ['--deflate'], () => tcp],
    ['wss', ['--tls'], () => tls],
  ])('talks to a stdlib-only Python client (%s)', async (_name, args, port) => {
    const { code, output } = await runPythonClient(port(), args);
    expect(output).toContain('CLOSED 1000');
    expect(code, output).toBe(0);
    if (args.includes('--deflate')) expect(output).toContain('OPEN permessage-deflate');
  });

  it('refuses a bad key with 400 and Sec-WebSocket-Version: 13, and a plain HTTP request with 426', async () => {
    const bad = await rawExchange(tcp, Buffer.from(upgradeRequest({ 'Sec-WebSocket-Key': 'nope' })));
    expect(bad.head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(bad.head).toContain('Sec-WebSocket-Version: 13\r\n');
    const plain = await rawExchange(tcp, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(plain.bytes.toString()).toMatch(/^HTTP\/1\.1 426 Upgrade Required\r\n/);
  });

  it('closes protocol violations with their codes, survives garbage from many clients, and keeps serving', async () => {
    const upgrade = Buffer.from(upgradeRequest());
    expect((await rawExchange(tcp, Buffer.concat([upgrade, clientFrame(1, 'x', { mask: false })]))).closeCode).toBe(1002);
    expect((await rawExchange(tcp, Buffer.concat([upgrade, clientFrame(1, Buffer.from([0xff, 0xfe]))]))).closeCode).toBe(1007);
    expect((await rawExchange(tcp, Buffer.concat([upgrade, clientFrame(2, Buffer.alloc(70_000))]))).closeCode).toBe(1009);
    // Garbage: before the handshake, after it, and after it with compression negotiated.
    const deflateUpgrade = Buffer.from(upgradeRequest({ 'Sec-WebSocket-Extensions': 'permessage-deflate' }));
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => rawExchange(tcp, Buffer.concat([i % 3 === 0 ? Buffer.alloc(0) : i % 3 === 1 ? upgrade : deflateUpgrade, randomBytes(2000 + i * 50)]), 3000)),
    );
    const ws = await openWs(`ws://127.0.0.1:${tcp}/`);
    expect((await roundTrip(ws, 'still here')).data.toString()).toBe('still here');
    await closeWs(ws);
    let last = new Map<string, number>();
    const metrics = await eventually(async () => {
      const m = (last = await scrape(server.metricsPort!));
      return sumSeries(m, 'skein_websocket_connections_active') === 0 ? m : undefined;
    }).catch((error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify([...last].filter(([k]) => k.includes('websocket') || k.includes('connections_active')))}`);
    });
    expect(sumSeries(metrics, 'skein_worker_restarts_total')).toBe(0);
    expect(sumSeries(metrics, 'skein_protocol_errors_total', 'code="SKEIN_ERR_PROTOCOL_CALLBACK"')).toBe(0);
    expect(sumSeries(metrics, 'skein_websocket_closes_total', 'code="1000"')).toBeGreaterThanOrEqual(1);
    expect(sumSeries(metrics, 'skein_websocket_closes_total', 'code="1002"')).toBeGreaterThanOrEqual(1);
    expect(sumSeries(metrics, 'skein_websocket_closes_total', 'code="1009"')).toBeGreaterThanOrEqual(1);
    expect(sumSeries(metrics, 'skein_protocol_errors_total', 'code="SKEIN_ERR_WEBSOCKET_INVALID_PAYLOAD"')).toBeGreaterThanOrEqual(1);
    expect(sumSeries(metrics, 'skein_messages_sent_total', 'protocol="ws-echo"')).toBeGreaterThan(0);
    expect(sumSeries(metrics, 'skein_messages_total', 'protocol="ws-echo"')).toBeGreaterThan(0);
  });

  it('on SIGTERM closes open WebSockets with 1001 (going away) and exits 0', async () => {
    const clients = await Promise.all(Array.from({ length: 4 }, () => openWs(`ws://127.0.0.1:${tcp}/`)));
    const codes = clients.map((ws) => new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code))));
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(await Promise.all(codes)).toEqual([1001, 1001, 1001, 1001]);
    for (const ws of clients) expect(ws.readyState).toBe(WebSocket.CLOSED);
  });
});
