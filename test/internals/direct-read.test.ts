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
import { HttpFactory } from '../../src/protocols/http/factory.js';
import { readsDirectly } from '../../src/shared/net/direct-read.js';
import { LENT_READS } from '../../src/shared/protocol/link.js';
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

/** A protocol that declares it copies what it keeps: records which memory each chunk lives in. */
class Borrower extends Protocol {
  readonly buffers = new Set<ArrayBufferLike>();
  bytes = 0;
  get [LENT_READS](): true {
    return true;
  }
  override dataReceived(data: Buffer): void {
    this.buffers.add(data.buffer);
    this.bytes += data.length;
  }
}

/** Splits HTTP/1.1 responses (Content-Length framed) into their bodies, in order. */
function responseBodies(bytes: Buffer): Buffer[] {
  const bodies: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const head = bytes.subarray(at, end).toString('latin1');
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
    bodies.push(bytes.subarray(end + 4, end + 4 + length));
    at = end + 4 + length;
  }
  return bodies;
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

  it('lend the shared buffer to a protocol that copies what it keeps (LENT_READS), and copy it for any other', async () => {
    const [lent, owned] = await Promise.all([socketPair(), socketPair()]);
    const borrower = new Borrower();
    serveProtocol(lent.socket, borrower, MARKS);
    const keeper = new Keeper();
    serveProtocol(owned.socket, keeper, MARKS);
    for (let i = 0; i < 20; i++) {
      await write(lent.peer, pattern(i, 1000 + i));
      await write(owned.peer, pattern(i, 1000 + i));
      await eventually(() => keeper.bytes.length === (i + 1) * 1000 + (i * (i + 1)) / 2);
    }
    await eventually(() => borrower.bytes === keeper.bytes.length);
    // Every lent chunk was a view of the one shared buffer; each owned chunk had memory of its own.
    expect(borrower.buffers.size).toBe(1);
    expect(new Set(keeper.chunks.map((c) => c.buffer)).size).toBeGreaterThan(1);
    expect(keeper.chunks.every((c) => !borrower.buffers.has(c.buffer))).toBe(true);
  });

  it('http on lent reads: bodies, held input and partial lines of three connections stay their own (echoed request by request)', async () => {
    const factory = new HttpFactory({ handler: (request) => ({ body: request.body }) });
    const pairs = await Promise.all([socketPair(), socketPair(), socketPair()]);
    const requests = pairs.map((_, c) =>
      // Small requests: one 64 KiB read holds more lines than a run's budget, so runs stop and hold the rest.
      Array.from({ length: 6000 }, (_, n) => {
        const body = pattern(c * 7919 + n, n % 500 === 0 ? 3000 : (n * 389 + c * 61) % 40);
        return { body, bytes: Buffer.concat([Buffer.from(`POST /echo/${c}/${n} HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n`), body]) };
      }),
    );
    const received = pairs.map(() => [] as Buffer[]);
    let closed = false;
    pairs.forEach(({ socket, peer }, c) => {
      peer.on('close', () => (closed = true));
      const protocol = factory.buildProtocol({ type: 'TCP', host: '127.0.0.1', port: 1 })!;
      serveProtocol(socket, protocol, MARKS);
      expect(readsDirectly(socket)).toBe(true);
      peer.on('data', (chunk: Buffer) => received[c]!.push(chunk));
    });
    // Connection 0 does not read at first: its responses pass the high-water mark, it stops, and holds input.
    pairs[0]!.peer.pause();
    // The three streams, cut at odd places (mid-line, mid-body) and interleaved, so reads of all three alternate in the shared buffer.
    const streams = requests.map((list) => Buffer.concat(list.map((r) => r.bytes)));
    const cut = [0, 0, 0];
    for (let round = 0; cut.some((at, c) => at < streams[c]!.length); round++) {
      for (let c = 0; c < 3; c++) {
        const stream = streams[c]!;
        if (cut[c]! >= stream.length) continue;
        const size = 1 + ((round * 7877 + c * 1013) % 60_000);
        const piece = stream.subarray(cut[c], cut[c]! + size);
        cut[c]! += piece.length;
        // Connection 0's writes are not awaited: its peer reads nothing until every write is made.
        if (c === 0) pairs[0]!.peer.write(piece);
        else await write(pairs[c]!.peer, piece);
      }
      if (round === 20) pairs[0]!.peer.resume();
    }
    pairs[0]!.peer.resume();
    // Every response, or a connection closed (a request read from overwritten bytes is refused, and the connection closes).
    await eventually(() => closed || received.every((chunks, c) => responseBodies(Buffer.concat(chunks)).length === requests[c]!.length), 15_000);
    received.forEach((chunks, c) => {
      const bodies = responseBodies(Buffer.concat(chunks));
      expect(bodies.map((b) => digest(b))).toEqual(requests[c]!.map((r) => digest(r.body)));
    });
  }, 20_000);
});
