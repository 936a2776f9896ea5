/**
 * Differential: the same bytes sent to skein's ws-echo and to `ws` (the usual Node server, on node:http)
 * must get the same answer: the same close code for each broken RFC 6455 rule, the same status for a bad
 * handshake, the same echo for valid traffic (also in 1-byte writes).
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { freePort, startServer, type StartedServer } from './helpers/server.js';
import { clientClose, clientFrame, decodeServer, upgradeRequest } from './helpers/websocket.js';
import { rawExchange } from './helpers/ws-client.js';

const MAX = 65536;

describe('skein ws-echo and ws answer the same bytes the same way', () => {
  let skein: StartedServer;
  let baseline: WebSocketServer;
  let baselinePort: number;
  beforeAll(async () => {
    skein = await startServer(['ws-echo', '--port', '0', '--workers', '1', '--metrics-port', String(await freePort()), '--option', `maxMessageBytes=${MAX}`]);
    baseline = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: MAX });
    baseline.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.on('error', () => {});
    });
    await once(baseline, 'listening');
    baselinePort = (baseline.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await skein.stop();
    await new Promise((resolve) => baseline.close(resolve));
  });

  const upgrade = () => Buffer.from(upgradeRequest());
  const cases: Array<[string, () => Buffer[]]> = [
    ['an unmasked client frame', () => [clientFrame(1, 'x', { mask: false })]],
    ['RSV2 set', () => [clientFrame(1, 'x', { rsv: 0x20 })]],
    ['RSV1 without an extension', () => [clientFrame(1, 'x', { rsv1: true })]],
    ['opcode 3', () => [clientFrame(3, 'x')]],
    ['opcode 0xB', () => [clientFrame(0xb, 'x')]],
    ['a fragmented ping', () => [clientFrame(9, 'x', { fin: false })]],
    ['a 126-byte ping', () => [clientFrame(9, Buffer.alloc(126))]],
    ['a continuation without a message', () => [clientFrame(0, 'x')]],
    ['a message inside a message', () => [clientFrame(1, 'a', { fin: false }), clientFrame(1, 'b')]],
    ['invalid UTF-8', () => [clientFrame(1, Buffer.from([0xc0, 0xaf]))]],
    ['UTF-8 invalid across fragments', () => [clientFrame(1, Buffer.from([0xe2]), { fin: false }), clientFrame(0, Buffer.from([0x28, 0xa1]))]],
    ['a 1-byte close payload', () => [clientFrame(8, Buffer.from([1]))]],
    ['close code 1005 on the wire', () => [clientClose(1005)]],
    ['close code 999', () => [clientClose(999)]],
    ['a close reason that is not UTF-8', () => [clientFrame(8, Buffer.from([0x03, 0xe8, 0xff, 0xfe]))]],
    ['a message over the limit', () => [clientFrame(2, Buffer.alloc(MAX + 1))]],
    ['fragments over the limit', () => [clientFrame(2, Buffer.alloc(MAX / 2 + 10), { fin: false }), clientFrame(0, Buffer.alloc(MAX / 2 + 10))]],
    ['a clean close', () => [clientClose(1000, 'bye')]],
    ['a close with code 4000', () => [clientClose(4000)]],
    ['an empty close', () => [clientFrame(8)]],
  ];

  it.each(cases)('%s: the same close code', async (_name, frames) => {
    const [a, b] = await Promise.all([
      rawExchange(skein.port, Buffer.concat([upgrade(), ...frames()])),
      rawExchange(baselinePort, Buffer.concat([upgrade(), ...frames()])),
    ]);
    expect(b.closeCode).toBeDefined();
    expect(a.closeCode).toBe(b.closeCode);
  });

  it.each([
    ['a bad key', { 'Sec-WebSocket-Key': 'short' }],
    // ws also accepts version 8 (a draft); skein speaks only 13, the RFC's (its 400 names it).
    ['version 12', { 'Sec-WebSocket-Version': '12' }],
    ['no version', { 'Sec-WebSocket-Version': undefined }],
  ])('%s: the same refusal status', async (_name, headers) => {
    const request = Buffer.from(upgradeRequest(headers));
    const [a, b] = await Promise.all([rawExchange(skein.port, request), rawExchange(baselinePort, request)]);
    const status = (r: { bytes: Buffer }) => r.bytes.toString('latin1').split('\r\n')[0]!.split(' ')[1];
    expect(status(a)).toBe(status(b));
  });

  it('the same echoes for the same valid frames, sent one byte per write', async () => {
    const frames = [clientFrame(1, 'héllo'), clientFrame(2, Buffer.from([0, 1, 2])), clientFrame(1, 'frag', { fin: false }), clientFrame(9, 'p'), clientFrame(0, 'ment'), clientClose(1000)];
    const bytes = Buffer.concat([upgrade(), ...frames]);
    const run = async (port: number) => {
      const socket = connect({ port, host: '127.0.0.1' });
      await once(socket, 'connect');
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      for (let i = 0; i < bytes.length; i++) {
        socket.write(bytes.subarray(i, i + 1));
        if (i % 16 === 0) await new Promise((r) => setImmediate(r));
      }
      await once(socket, 'close');
      const { frames: out } = decodeServer(Buffer.concat(chunks));
      return out.map((f) => [f.opcode, f.payload.toString('hex')]);
    };
    const [a, b] = await Promise.all([run(skein.port), run(baselinePort)]);
    expect(a).toEqual(b);
    expect(a.map((f) => f[0])).toEqual([1, 2, 0xa, 1, 8]);
  });
});
