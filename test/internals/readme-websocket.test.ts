/** docs/websocket.md's example, run as written (through the package name, as a user would). */
import { WebSocketFactory, WebSocketProtocol, type WebSocketClosed } from 'skein';
import { connectProtocol } from 'skein/testing';
import { expect, it, vi } from 'vitest';
import { clientClose, clientFrame, decodeServer, upgradeRequest } from '../helpers/websocket.js';

class Chat extends WebSocketProtocol {
  // Called once the opening handshake is done: this.request (path, headers), this.subprotocol are set.
  override connectionMade(): void {
    this.sendMessage(`welcome to ${this.request.path}`);
  }
  // Each whole message: fragments reassembled, text checked to be UTF-8, decompressed if it was compressed.
  override messageReceived(data: Buffer, isBinary: boolean): void {
    if (!isBinary && data.toString() === 'bye') return this.close(1000, 'see you');
    this.sendMessage(data, { binary: isBinary });
  }
  // Exactly once, with the close code (the peer's, 1006 without a closing handshake, or the code skein failed with).
  override connectionLost(reason: WebSocketClosed): void {
    console.log(reason.closeCode, reason.closeReason, reason.wasClean);
  }
}

const factory = new WebSocketFactory({
  protocol: Chat,
  options: { perMessageDeflate: true, subprotocols: ['chat.v2', 'chat.v1'] },
  // Decide each upgrade request: by path, Origin, cookies… true accepts, false refuses (403).
  accept: (request) =>
    request.path !== '/chat' ? { status: 404, message: 'no such endpoint' }
    : request.headers.origin !== 'https://example.com' ? false
    : { headers: { 'x-served-by': 'skein' } },
});

it('serves the README chat: welcome, echo, close on bye; refuses other paths and origins', () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const h = connectProtocol(factory.buildProtocol(), { factory });
  h.receive(upgradeRequest({ Origin: 'https://example.com', 'Sec-WebSocket-Protocol': 'chat.v1, chat.v2' }));
  h.receive(Buffer.concat([clientFrame(1, 'hi'), clientFrame(1, 'bye')]));
  const { head, frames } = decodeServer(h.transport.value());
  expect(head).toContain('Sec-WebSocket-Protocol: chat.v2\r\n');
  expect(head).toContain('x-served-by: skein\r\n');
  expect(frames.map((f) => f.payload.subarray(f.opcode === 8 ? 2 : 0).toString())).toEqual(['welcome to /chat', 'hi', 'see you']);
  h.receive(clientClose(1000));
  h.connectionLost();
  expect(log).toHaveBeenCalledWith(1000, '', true);
  log.mockRestore();
  const other = connectProtocol(factory.buildProtocol(), { factory });
  other.receive(upgradeRequest({ Origin: 'https://evil.example' }));
  expect(other.written()).toMatch(/^HTTP\/1\.1 403 /);
});
