/** The README's upgrade-from-http example, run as written (through the package name). */
import { HttpFactory, WebSocketFactory, WebSocketProtocol, webSocketUpgrade } from 'skein';
import { connectProtocol } from 'skein/testing';
import { expect, it } from 'vitest';
import { clientFrame, decodeServer, upgradeRequest } from '../helpers/websocket.js';

class Echo extends WebSocketProtocol {
  override messageReceived(data: Buffer, isBinary: boolean): void {
    this.sendMessage(data, { binary: isBinary });
  }
}
const echo = new WebSocketFactory({ protocol: Echo, options: { perMessageDeflate: true, subprotocols: ['echo.v1'] } });

const factory = new HttpFactory({
  handler: (request) => {
    if (request.headers.upgrade?.toLowerCase() === 'websocket') {
      if (request.headers.origin !== 'https://example.com') return { status: 403, body: 'origin not allowed\n' };
      if (request.path === '/echo') return webSocketUpgrade(echo, { headers: { 'x-served-by': 'skein' } });
      return { status: 404, body: 'no WebSocket here\n' };
    }
    return { body: 'hello\n' };
  },
});

it('upgrades /echo from the allowed origin and echoes; refuses others as plain responses', () => {
  const h = connectProtocol(factory.buildProtocol({ type: 'TCP', host: '127.0.0.1', port: 1 })!, { factory });
  h.receive(Buffer.concat([Buffer.from(upgradeRequest({ Origin: 'https://example.com', 'Sec-WebSocket-Protocol': 'echo.v1' }, '/echo')), clientFrame(1, 'hi')]));
  const { head, frames } = decodeServer(h.transport.value());
  expect(head).toContain('x-served-by: skein\r\n');
  expect(head).toContain('Sec-WebSocket-Protocol: echo.v1\r\n');
  expect(frames.map((f) => f.payload.toString())).toEqual(['hi']);
  const refused = connectProtocol(factory.buildProtocol({ type: 'TCP', host: '127.0.0.1', port: 1 })!, { factory });
  refused.receive(upgradeRequest({ Origin: 'https://example.com' }, '/other'));
  expect(refused.written()).toMatch(/^HTTP\/1\.1 404 /);
});
