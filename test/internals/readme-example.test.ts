/** The README's testing-kit example, run as written (through the package name, as a user would). */
import { LineReceiver, TimeoutMixin } from 'skein';
import { connectedPair, connectProtocol } from 'skein/testing';
import { expect, it } from 'vitest';

class Chat extends TimeoutMixin(LineReceiver) {
  override connectionMade(): void {
    this.setTimeout(30);
  }
  override lineReceived(line: Buffer): void {
    this.resetTimeout();
    this.sendLine(line);
  }
}

class ChatClient extends LineReceiver {
  lines: string[] = [];
  override lineReceived(line: Buffer): void {
    this.lines.push(line.toString());
  }
}

it('echoes lines however they are split, and times out when idle', () => {
  for (const chunkSize of [1, 2, 3, 1000]) {
    const h = connectProtocol(new Chat());
    h.receive('hello\r\nworld\r\n', { chunkSize });
    expect(h.written()).toBe('hello\r\nworld\r\n');
  }
  const idle = connectProtocol(new Chat());
  idle.advance(30);
  expect(idle.errorCodes).toEqual(['SKEIN_ERR_IDLE_TIMEOUT']);
});

it('talks to its client', () => {
  const pair = connectedPair(new ChatClient(), new Chat());
  pair.client.protocol.sendLine('hi');
  pair.pump();
  expect(pair.client.protocol.lines).toEqual(['hi']);
});
