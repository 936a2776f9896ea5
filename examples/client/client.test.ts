import { connectedPair } from 'skein/testing';
import { LineReceiver } from 'skein';
import { expect, it, vi } from 'vitest';
import { Pinger } from './pinger.js';

class Echo extends LineReceiver {
  override lineReceived(line: Buffer): void {
    this.sendLine(`Processed: ${line.toString()}`);
  }
}

it('pings every second and prints the answers', () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const pair = connectedPair(new Pinger(), new Echo());
  pair.pump();
  pair.clock?.advance(1);
  pair.pump();
  expect(log.mock.calls.map((c) => c[0])).toEqual(['connected', 'Processed: ping 1', 'Processed: ping 2']);
  log.mockRestore();
});
