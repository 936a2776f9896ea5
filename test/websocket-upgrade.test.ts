import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrape, sumSeries } from './helpers/client.js';
import { eventually, type StartedServer } from './helpers/server.js';
import { clientClose, clientFrame, decodeServer, upgradeRequest } from './helpers/websocket.js';
import { closeWs, openWs, rawExchange, roundTrip, runPythonClient, startOnEveryEndpoint, WebSocket } from './helpers/ws-client.js';

const HANDLER = fileURLToPath(new URL('./fixtures/ws-upgrade-handler.ts', import.meta.url));

describe('upgrade from http: skein serve http with a handler that upgrades (2 workers; tcp, tls, PROXY)', () => {
  let server: StartedServer;
  let tcp: number;
  let tls: number;
  let proxied: number;
  beforeAll(async () => {
    ({ server, tcp, tls, proxied } = await startOnEveryEndpoint('http', ['--option', `handler=${HANDLER}`]));
  });
  afterAll(async () => {
    if (server.child.exitCode === null) await server.stop();
  });

  it.each([false, true])('upgrades /echo for ws clients and echoes (permessage-deflate: %s)', async (deflate) => {
    const clients = await Promise.all(Array.from({ length: 4 }, () => openWs(`ws://127.0.0.1:${tcp}/echo`, { perMessageDeflate: deflate })));
    for (const ws of clients) {
      expect(ws.extensions).toBe(deflate ? 'permessage-deflate' : '');
      expect(await roundTrip(ws, 'über http')).toEqual({ data: Buffer.from('über http'), isBinary: false });
      const big = Buffer.alloc(30_000, 'z');
      expect((await roundTrip(ws, big)).data).toEqual(big);
    }
    expect((await Promise.all(clients.map((ws) => closeWs(ws)))).map((c) => c.code)).toEqual([1000, 1000, 1000, 1000]);
  });

  it('selects the handler’s subprotocol and sends its extra header; refuses other paths (404) and origins (403) as plain responses', async () => {
    const chat = new WebSocket(`ws://127.0.0.1:${tcp}/chat`, ['chat.v2', 'chat.v1']);
    const headers = new Promise<Record<string, unknown>>((resolve) => chat.once('upgrade', (res) => resolve(res.headers)));
    await new Promise((resolve, reject) => chat.once('open', resolve).once('error', reject));
    expect(chat.protocol).toBe('chat.v1');
    expect((await headers)['x-chat']).toBe('yes');
    await closeWs(chat);
    await expect(openWs(`ws://127.0.0.1:${tcp}/nowhere`)).rejects.toThrow(/unexpected response 404/);
    await expect(openWs(`ws://127.0.0.1:${tcp}/echo`, { origin: 'https://evil.example' })).rejects.toThrow(/unexpected response 403/);
  });

  it('answers a bad key with 400 and Sec-WebSocket-Version: 13, whatever the handler chose', async () => {
    const bad = await rawExchange(tcp, Buffer.from(upgradeRequest({ 'Sec-WebSocket-Version': '12' }, '/echo')));
    expect(bad.head).toMatch(/^HTTP\/1\.1 400 /);
    expect(bad.head).toContain('Sec-WebSocket-Version: 13\r\n');
  });

  it('serves a plain request, then the upgrade, then frames, all sent in one write on one connection', async () => {
    const bytes = Buffer.concat([
      Buffer.from('GET /first HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.from(upgradeRequest({}, '/echo')),
      clientFrame(1, 'right behind the request'),
      clientClose(1000),
    ]);
    const { bytes: got } = await rawExchange(tcp, bytes);
    const text = got.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*plain http at \/first\n/);
    const at = got.indexOf('HTTP/1.1 101');
    expect(at).toBeGreaterThan(0);
    const { head, frames } = decodeServer(got.subarray(at));
    expect(head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(frames.map((f) => [f.opcode, f.opcode === 1 ? f.payload.toString() : f.payload.readUInt16BE(0)])).toEqual([
      [1, 'right behind the request'],
      [8, 1000],
    ]);
  });

  it('speaks wss on the TLS endpoint and WebSocket behind a PROXY header', async () => {
    const secure = await openWs(`wss://127.0.0.1:${tls}/echo`, { rejectUnauthorized: false, perMessageDeflate: true });
    expect((await roundTrip(secure, 'wss')).data.toString()).toBe('wss');
    await closeWs(secure);
    const behind = await openWs(`ws://127.0.0.1:${proxied}/echo`, {
      createConnection: () => {
        const socket = connect({ port: proxied, host: '127.0.0.1' });
        socket.write('PROXY TCP4 198.51.100.1 127.0.0.1 5555 80\r\n');
        return socket;
      },
    });
    expect((await roundTrip(behind, 'proxied')).data.toString()).toBe('proxied');
    await closeWs(behind);
  });

  it.each([
    ['plain', ['--path', '/echo'], () => tcp],
    ['permessage-deflate', ['--path', '/echo', '--deflate'], () => tcp],
    ['wss', ['--path', '/echo', '--tls'], () => tls],
  ])('talks to the stdlib-only Python client through the upgrade (%s)', async (_name, args, port) => {
    const { code, output } = await runPythonClient(port(), args);
    expect(code, output).toBe(0);
    expect(output).toContain('CLOSED 1000');
  });

  it('counts upgraded WebSockets under the http service, and closes them with 1001 on SIGTERM', async () => {
    const clients = await Promise.all(Array.from({ length: 3 }, () => openWs(`ws://127.0.0.1:${tcp}/echo`)));
    const metrics = await eventually(async () => {
      const m = await scrape(server.metricsPort!);
      return sumSeries(m, 'skein_websocket_connections_active', 'protocol="http"') === 3 ? m : undefined;
    });
    expect(sumSeries(metrics, 'skein_websocket_closes_total', 'code="1000"')).toBeGreaterThanOrEqual(4);
    const codes = clients.map((ws) => new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code))));
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(await Promise.all(codes)).toEqual([1001, 1001, 1001]);
  });
});
