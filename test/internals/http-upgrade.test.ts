import { describe, expect, it } from 'vitest';
import { HttpFactory } from '../../src/protocols/http/factory.js';
import type { HttpHandler } from '../../src/protocols/http/protocol.js';
import { WebSocketFactory } from '../../src/protocols/websocket/factory.js';
import { WebSocketProtocol } from '../../src/protocols/websocket/protocol.js';
import { webSocketUpgrade } from '../../src/protocols/websocket/upgrade.js';
import { connectProtocol } from '../../src/testing.js';
import { clientFrame, decodeServer, upgradeRequest } from '../helpers/websocket.js';

class Echo extends WebSocketProtocol {
  override messageReceived(data: Buffer, isBinary: boolean): void {
    this.sendMessage(data, { binary: isBinary });
  }
}
const echo = new WebSocketFactory({ protocol: Echo });

function serve(handler: HttpHandler) {
  const factory = new HttpFactory({ handler });
  return connectProtocol(factory.buildProtocol({ type: 'TCP', host: '127.0.0.1', port: 1 })!, { factory });
}

const upgradeOrNot: HttpHandler = (req) => (req.path === '/ws' ? webSocketUpgrade(echo) : { body: `plain ${req.path}\n` });

/** The bytes after the last HTTP response head: the WebSocket part. */
function afterSwitch(bytes: Buffer) {
  const at = bytes.indexOf('HTTP/1.1 101');
  return decodeServer(bytes.subarray(at));
}

describe('upgrade from http', () => {
  it.each([1, 2, 7, 1000])('hands the connection over after the 101, with the frames that came with the request (chunks of %d)', (chunkSize) => {
    const h = serve(upgradeOrNot);
    h.receive(Buffer.concat([Buffer.from('GET /a HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.from(upgradeRequest({}, '/ws')), clientFrame(1, 'first'), clientFrame(2, 'second')]), { chunkSize });
    const bytes = h.transport.value();
    expect(bytes.toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*plain \/a\n/);
    const { head, frames } = afterSwitch(bytes);
    expect(head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(frames.map((f) => f.payload.toString())).toEqual(['first', 'second']);
    expect(h.transport.producerState).toBe('producing');
  });

  it('hands over after an asynchronous handler, keeping what arrived meanwhile', async () => {
    let answer!: () => void;
    const h = serve(() => new Promise<ReturnType<typeof webSocketUpgrade>>((resolve) => (answer = () => resolve(webSocketUpgrade(echo)))));
    h.receive(Buffer.concat([Buffer.from(upgradeRequest({}, '/ws')), clientFrame(1, 'early')]));
    expect(h.transport.producerState).toBe('paused');
    h.receive(clientFrame(1, 'later'));
    answer();
    await new Promise((r) => setImmediate(r));
    expect(afterSwitch(h.transport.value()).frames.map((f) => f.payload.toString())).toEqual(['early', 'later']);
    expect(h.transport.producerState).toBe('producing');
  });

  it('an upgrade request answered with an ordinary response stays HTTP: the next request is served', () => {
    const h = serve(upgradeOrNot);
    h.receive(Buffer.concat([Buffer.from(upgradeRequest({}, '/not-ws')), Buffer.from('GET /next HTTP/1.1\r\nHost: x\r\n\r\n')]), { chunkSize: 5 });
    const text = h.written('latin1');
    expect(text).toContain('plain /not-ws\n');
    expect(text).toContain('plain /next\n');
    expect(text).not.toContain('101 Switching');
  });

  it('refuses an invalid upgrade with 400 and Sec-WebSocket-Version: 13, then closes', () => {
    const h = serve(upgradeOrNot);
    h.receive(upgradeRequest({ 'Sec-WebSocket-Key': 'x' }, '/ws'));
    expect(h.written()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\nSec-WebSocket-Version: 13\r\n/);
    expect(h.transport.disconnecting).toBe(true);
  });

  it('forwards drain to the WebSocket (close 1001)', () => {
    const h = serve(upgradeOrNot);
    h.receive(upgradeRequest({}, '/ws'));
    h.protocol.drain();
    const { frames } = afterSwitch(h.transport.value());
    expect(frames.at(-1)?.payload.readUInt16BE(0)).toBe(1001);
  });
});
