/**
 * Direct reads (src/shared/net/direct-read.ts): a plain TCP socket is read into
 * one buffer the process shares, without its Readable stream. Each chunk must
 * still be the protocol's own, a paused connection must hold no read of its
 * own (the kernel holds the bytes), and a socket that already has bytes in its
 * stream keeps the stream path. Real sockets; sizes and contents, no timings.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { readsDirectly } from '../../src/shared/net/direct-read.js';
import { Protocol } from '../../src/shared/protocol/protocol.js';
import { eventually } from '../helpers/server.js';
import { closeSocketPairs, serveProtocol, socketPair } from '../helpers/socket-pair.js';

const MARKS = { high: 64 * 1024, low: 16 * 1024 };
afterEach(closeSocketPairs);

/** Keeps every chunk exactly as delivered (no copy), as a careless protocol would. */
class Keeper extends Protocol {
  readonly chunks: Buffer[] = [];
  ended = false;
  override dataReceived(data: Buffer): void {
    this.chunks.push(data);
  }
  override connectionLost(): void {
    this.ended = true;
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** `n` bytes of a pattern that differs per `seed` and per position. */
function pattern(seed: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 31 + i * 7 + (i >> 8)) & 0xff;
  return b;
}

const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function write(peer: Socket, data: Buffer): Promise<void> {
  if (!peer.write(data)) await once(peer, 'drain');
}

describe('direct reads', () => {
  it('apply to accepted TCP sockets, and each chunk stays the protocol’s own across reads of other connections', async () => {
    const pairs = await Promise.all([socketPair(), socketPair(), socketPair()]);
    const keepers = pairs.map(({ socket }) => {
      const keeper = new Keeper();
      serveProtocol(socket, keeper, MARKS);
      expect(readsDirectly(socket)).toBe(true);
      return keeper;
    });
    // Interleaved writes of different sizes, so reads of the three sockets alternate in the shared buffer.
    const sent = pairs.map(() => [] as Buffer[]);
    for (let round = 0; round < 200; round++) {
      await Promise.all(
        pairs.map(({ peer }, i) => {
          const piece = pattern(round * 3 + i, 1 + ((round * 977 + i * 131) % 9000));
          sent[i]!.push(piece);
          return write(peer, piece);
        }),
      );
    }
    for (const { peer } of pairs) peer.end();
    await eventually(() => keepers.every((k) => k.ended));
    keepers.forEach((keeper, i) => {
      const expected = Buffer.concat(sent[i]!);
      expect(keeper.bytes.length).toBe(expected.length);
      expect(digest(keeper.bytes)).toBe(digest(expected));
    });
  });

  it('pause the handle: a paused connection holds no read in its stream, and resumes with every byte in order', async () => {
    const { socket, peer } = await socketPair();
    const keeper = new Keeper();
    const { transport } = serveProtocol(socket, keeper, MARKS);
    transport.pauseProducing();
    const data = pattern(7, 4 * 1024 * 1024);
    peer.write(data);
    // Let the kernel's buffers fill; the stream path would have read one more chunk into the socket.
    await eventually(() => peer.writableLength > 0);
    await sleep(200);
    expect(keeper.chunks.length).toBe(0);
    expect(socket.readableLength).toBe(0);
    expect((socket as unknown as { _handle: { reading: boolean } })._handle.reading).toBe(false);
    transport.resumeProducing();
    await eventually(() => keeper.bytes.length === data.length);
    expect(digest(keeper.bytes)).toBe(digest(data));
  });

  it('leave a socket that already has bytes in its stream on the stream path, losing nothing', async () => {
    const { socket, peer } = await socketPair();
    socket.pause();
    peer.write('first bytes, read before the protocol is attached');
    await eventually(() => socket.readableLength > 0);
    const keeper = new Keeper();
    serveProtocol(socket, keeper, MARKS);
    expect(readsDirectly(socket)).toBe(false);
    peer.end(' and more');
    await eventually(() => keeper.ended);
    expect(keeper.bytes.toString()).toBe('first bytes, read before the protocol is attached and more');
  });
});
