/**
 * The per-connection budget of framing receivers (issue 15, cases 2, 4, 5):
 * frames wait while reading is paused or past the per-turn budget, replies
 * queued beyond `maxPendingReplies` pause reading, and a half-close is answered
 * in full before the connection closes. Real sockets; sizes in bytes, no timings.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { SocketTransport } from '../../src/shared/net/socket-transport.js';
import { FRAMES_PER_TURN } from '../../src/shared/protocol/framing/buffered-receiver.js';
import { LineReceiver } from '../../src/shared/protocol/framing/line-receiver.js';
import { Int16StringReceiver } from '../../src/shared/protocol/framing/int-string-receiver.js';
import type { Protocol } from '../../src/shared/protocol/protocol.js';
import { eventually } from '../helpers/server.js';
import { closeSocketPairs, serveProtocol, socketPair } from '../helpers/socket-pair.js';

const MARKS = { high: 64 * 1024, low: 16 * 1024 };
const REPLY = Buffer.alloc(1011, 'x'); // with the prefix and CRLF: 1024 bytes
afterEach(closeSocketPairs);

/** Runs `protocol` on the accepted end through attachProtocol, as the reactor does; counts the dispatches. */
async function serve(protocol: Protocol): Promise<{ transport: SocketTransport; peer: Socket; dispatches: number[] }> {
  const { socket, peer } = await socketPair();
  const { transport, dispatches } = serveProtocol(socket, protocol, MARKS);
  return { transport, peer, dispatches };
}

describe('framing receivers keep to the per-connection budget', () => {
  it('deliver at most FRAMES_PER_TURN frames per dispatch, the rest on later turns, all in order', async () => {
    const lines: string[] = [];
    const perDispatch: { dispatches?: number[] } = {};
    class Lines extends LineReceiver {
      override lineReceived(line: Buffer): void {
        lines.push(line.toString());
        const d = perDispatch.dispatches!;
        d[d.length - 1]!++;
      }
    }
    const served = await serve(new Lines());
    perDispatch.dispatches = served.dispatches;
    const n = 5 * FRAMES_PER_TURN + 7;
    served.peer.write(Array.from({ length: n }, (_, i) => `${i}\r\n`).join(''));
    await eventually(() => lines.length === n);
    expect(lines).toEqual(Array.from({ length: n }, (_, i) => String(i)));
    expect(Math.max(...served.dispatches)).toBeLessThanOrEqual(FRAMES_PER_TURN);
  });

  it('hold frames, not replies, when the peer never reads: unsent output stays near the high-water mark', async () => {
    let delivered = 0;
    class Noisy extends LineReceiver {
      override acceptBareLF = true;
      override lineReceived(): void {
        delivered++;
        // 1 KiB per 1-byte line: more than the kernel's socket buffers take.
        this.transport.writeSequence([Buffer.from('Processed: '), REPLY, Buffer.from('\r\n')]);
      }
    }
    const { transport, peer } = await serve(new Noisy());
    peer.pause();
    const sent = 64 * 1024;
    peer.write(Buffer.alloc(sent, '\n'));
    // Delivery stops once the output the peer does not read passes the high-water mark (after the kernel's buffers).
    let last = -1;
    await eventually(() => {
      const settled = delivered === last && transport.readingPaused;
      last = delivered;
      return settled;
    }, 20_000, 200);
    expect(delivered).toBeLessThan(sent);
    // Unsent bytes in the process: the high-water mark plus at most one dispatch's gathered write.
    expect(transport.socket.writableLength).toBeLessThanOrEqual(MARKS.high + 1024);
    // Everything comes out once the peer reads.
    let got = 0;
    peer.on('data', (c: Buffer) => (got += c.length));
    peer.resume();
    await eventually(() => got === sent * 1024, 40_000);
  }, 60_000);

  it('read no more bytes while frames are held back: a reading client pipelining tiny frames leaves them in the kernel', async () => {
    let largest = 0;
    let delivered = 0;
    class Echo extends LineReceiver {
      override lineReceived(line: Buffer): void {
        delivered++;
        // What the connection holds unparsed, however fast the peer sends.
        largest = Math.max(largest, this.received.length);
        this.sendLine(line);
      }
    }
    const { peer } = await serve(new Echo());
    let got = 0;
    peer.on('data', (c: Buffer) => (got += c.length));
    const lines = 512 * 1024; // 2.5 MiB of 5-byte frames: 512 times the per-turn budget
    peer.write(Buffer.from('abc\r\n'.repeat(lines)));
    await eventually(() => got === lines * 5, 40_000);
    expect(delivered).toBe(lines);
    // About one read's worth (64 KiB) plus what one budget's worth of frames leaves, never the megabytes sent.
    expect(largest).toBeLessThanOrEqual(256 * 1024);
  }, 60_000);

  it('keep frames waiting for a later turn in a buffer of their own, and read nothing more meanwhile', async () => {
    // Sizes seen on each later turn (the transport's empty chunk): the bytes waiting, the buffer they sit in,
    // and what the paused socket has read into its stream beyond them.
    const turns: Array<{ waiting: number; buffer: number; streamed: number }> = [];
    let got = 0;
    class Echo extends LineReceiver {
      override dataReceived(data: Buffer): void {
        if (data.length === 0) {
          const view = this.received.view();
          turns.push({ waiting: view.length, buffer: view.buffer.byteLength, streamed: (this.transport as SocketTransport).socket.readableLength });
        }
        super.dataReceived(data);
      }
      override lineReceived(line: Buffer): void {
        this.sendLine(line);
      }
    }
    const { peer } = await serve(new Echo());
    peer.on('data', (c: Buffer) => (got += c.length));
    const lines = 64 * 1024; // 512 KiB of 8-byte frames: 64 times the per-turn budget, several reads
    peer.write(Buffer.from('abcdef\r\n'.repeat(lines)));
    await eventually(() => got === lines * 8, 40_000);
    const large = turns.filter((t) => t.waiting > 8 * 1024);
    expect(large.length).toBeGreaterThan(0);
    // Not a view of the read (64 KiB) the frames arrived in: that read is garbage after its first turn, and
    // dies young instead of waiting, promoted, for a full GC.
    for (const t of large) expect(t.buffer).toBe(t.waiting);
    // The socket's handle stopped reading: no further read (an ArrayBuffer of up to 64 KiB) waits in the stream.
    expect(Math.max(...turns.map((t) => t.streamed))).toBe(0);
  }, 60_000);

  it('pause reading while maxPendingReplies replies are queued, however small', async () => {
    const resolvers: Array<() => void> = [];
    class Slow extends Int16StringReceiver {
      override stringReceived(data: Buffer): void {
        const copy = Buffer.from(data);
        this.reply(new Promise<Buffer>((resolve) => resolvers.push(() => resolve(copy))));
      }
    }
    const protocol = new Slow();
    const { transport, peer } = await serve(protocol);
    const frame = Buffer.from([0, 1, 0x41]);
    peer.write(Buffer.concat(Array.from({ length: 1000 }, () => frame)));
    await eventually(() => resolvers.length === protocol.maxPendingReplies);
    expect(transport.readingPausedFor.has('replies')).toBe(true);
    expect(protocol.pendingReplies).toBe(protocol.maxPendingReplies);
    let got = 0;
    peer.on('data', (c: Buffer) => (got += c.length));
    // Answer as they come: every frame is delivered and answered, never more than the limit pending.
    const pump = setInterval(() => {
      expect(protocol.pendingReplies).toBeLessThanOrEqual(protocol.maxPendingReplies);
      for (const r of resolvers.splice(0)) r();
    }, 5);
    try {
      await eventually(() => got === 1000, 20_000);
    } finally {
      clearInterval(pump);
    }
  });

  it('answer everything received before a half-close, pending replies included, then close', async () => {
    class Later extends LineReceiver {
      override lineReceived(line: Buffer): void {
        const text = `${line.toString()}\r\n`;
        this.reply(new Promise<string>((resolve) => setTimeout(() => resolve(text), 2)));
      }
    }
    const { peer } = await serve(new Later());
    let text = '';
    peer.on('data', (c: Buffer) => (text += c.toString()));
    const n = 3 * FRAMES_PER_TURN;
    peer.end(Array.from({ length: n }, (_, i) => `${i}\r\n`).join(''));
    await once(peer, 'close');
    expect(text.split('\r\n').filter(Boolean)).toEqual(Array.from({ length: n }, (_, i) => String(i)));
  });
});
