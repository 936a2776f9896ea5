import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SocketTransport } from '../../src/shared/net/socket-transport.js';
import { eventually } from '../helpers/server.js';
import { closeSocketPairs, socketPair } from '../helpers/socket-pair.js';

afterEach(closeSocketPairs);

/** A connected pair: our transport on the accepted side, and the peer's received bytes. */
async function pair(marks = { high: 64 * 1024, low: 16 * 1024 }): Promise<{ transport: SocketTransport; stats: { bytesSent: number }; peer: Socket; received: () => string; ended: Promise<unknown> }> {
  const { socket, peer } = await socketPair();
  let text = '';
  peer.on('data', (c: Buffer) => (text += c.toString()));
  const ended = once(peer, 'end');
  const stats = { bytesSent: 0 };
  return { transport: new SocketTransport(socket, marks, stats), stats, peer, received: () => text, ended };
}

/** Counts the socket's write calls into libuv: `_write` (one buffer) and `_writev` (a corked batch). */
function spyWrites(socket: Socket) {
  const s = socket as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  return { write: vi.spyOn(s, '_write'), writev: vi.spyOn(s, '_writev') };
}

describe('SocketTransport', () => {
  it('sends the one reply of a dispatch as one write, without corking', async () => {
    const { transport, received } = await pair();
    const spies = spyWrites(transport.socket);
    transport.beginDispatch();
    transport.write('Processed: hi');
    expect(spies.write).not.toHaveBeenCalled();
    transport.endDispatch();
    expect(spies.write).toHaveBeenCalledTimes(1);
    expect(spies.writev).not.toHaveBeenCalled();
    await eventually(() => received() === 'Processed: hi');
  });

  it('sends several small writes of a dispatch in order, gathered into one write', async () => {
    const { transport, received } = await pair();
    const spies = spyWrites(transport.socket);
    transport.beginDispatch();
    transport.write('a');
    transport.writeSequence(['b', Buffer.from('c')]);
    transport.write('d');
    transport.endDispatch();
    expect(spies.write).toHaveBeenCalledTimes(1);
    expect(spies.writev).not.toHaveBeenCalled();
    await eventually(() => received() === 'abcd');
  });

  it('sends several large writes of a dispatch in order, as one writev', async () => {
    const { transport, received } = await pair({ high: 1024 * 1024, low: 256 * 1024 });
    const spies = spyWrites(transport.socket);
    transport.beginDispatch();
    transport.write(Buffer.alloc(40 * 1024, 'a'));
    transport.write(Buffer.alloc(40 * 1024, 'b'));
    transport.endDispatch();
    expect(spies.writev).toHaveBeenCalledTimes(1);
    expect(spies.write).not.toHaveBeenCalled();
    await eventually(() => received().length === 80 * 1024 && received().endsWith('b'));
  });

  it('corks writes outside a dispatch until the next tick', async () => {
    const { transport, received } = await pair();
    const spies = spyWrites(transport.socket);
    transport.write('x');
    transport.write('y');
    expect(spies.writev).not.toHaveBeenCalled();
    await new Promise((r) => process.nextTick(r));
    expect(spies.writev).toHaveBeenCalledTimes(1);
    await eventually(() => received() === 'xy');
  });

  it('flushes held writes before closing, and drops them on abort', async () => {
    const closing = await pair();
    closing.transport.beginDispatch();
    closing.transport.write('bye');
    closing.transport.loseConnection();
    closing.transport.write('dropped: written after loseConnection');
    closing.transport.endDispatch();
    await closing.ended;
    expect(closing.received()).toBe('bye');

    const aborting = await pair();
    const spies = spyWrites(aborting.transport.socket);
    aborting.transport.beginDispatch();
    aborting.transport.write('never');
    aborting.transport.abortConnection();
    aborting.transport.write('nor this: written after the abort');
    aborting.transport.endDispatch();
    expect(spies.write).not.toHaveBeenCalled();
    expect(aborting.stats.bytesSent).toBe('never'.length);
  });

  it('hands held writes to the socket mid-dispatch once they pass the high-water mark, in order and counted', async () => {
    const { transport, stats, received } = await pair({ high: 1024, low: 256 });
    const spies = spyWrites(transport.socket);
    transport.beginDispatch();
    for (let i = 0; i < 10; i++) transport.writeSequence([String(i), Buffer.alloc(299, 'x')]);
    expect(spies.write.mock.calls.length + spies.writev.mock.calls.length).toBeGreaterThan(0);
    transport.endDispatch();
    expect(stats.bytesSent).toBe(3000);
    await eventually(() => received().length === 3000);
    expect(received()).toBe(Array.from({ length: 10 }, (_, i) => `${i}${'x'.repeat(299)}`).join(''));
  });

  it('stops reading when a dispatch writes past the high-water mark', async () => {
    const { transport, peer } = await pair({ high: 1024, low: 256 });
    peer.pause(); // the peer does not read: our output stays queued
    transport.beginDispatch();
    // 16 MiB: more than loopback socket buffers absorb (tcp_wmem + tcp_rmem maxima), so output queues in the process.
    for (let i = 0; i < 256; i++) transport.write(Buffer.alloc(64 * 1024));
    transport.endDispatch();
    expect(transport.readingPausedFor.has('write-buffer')).toBe(true);
    expect(transport.socket.isPaused()).toBe(true);
  });

  it('reuses its gather buffer only after a write left at once: a write waiting for a reader that does not read keeps its bytes', async () => {
    const ends = await Promise.all([socketPair(), socketPair()]);
    const [stalled, reading] = ends.map(({ socket, peer }) => {
      const chunks: Buffer[] = [];
      peer.on('data', (c: Buffer) => chunks.push(c));
      return { transport: new SocketTransport(socket, { high: 64 * 1024, low: 16 * 1024 }), peer, chunks, sent: [] as Buffer[] };
    });
    // The stalled peer reads nothing until the end: once the kernel's buffers are full its writes wait, holding their bytes.
    stalled!.peer.pause();
    // Until the stalled side's writes wait (the kernel's buffers hold some MiB on loopback), then 100 rounds more.
    let waitingSince = -1;
    for (let round = 0; round < 5000 && (waitingSince < 0 || round < waitingSince + 100); round++) {
      if (waitingSince < 0 && stalled!.transport.socket.writableLength > 0) waitingSince = round;
      for (const [side, end] of [stalled!, reading!].entries()) {
        // 80 pieces of 100 bytes in one dispatch: gathered (8000 bytes, above Buffer's pool size) into one write.
        end.transport.beginDispatch();
        for (let i = 0; i < 80; i++) {
          const piece = Buffer.alloc(100, (round * 80 + i + side * 127) & 0xff);
          end.sent.push(piece);
          end.transport.write(piece);
        }
        end.transport.endDispatch();
      }
      await new Promise((r) => setImmediate(r));
    }
    expect(waitingSince).toBeGreaterThan(0);
    stalled!.peer.resume();
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    for (const end of [stalled!, reading!]) {
      const expected = Buffer.concat(end.sent);
      await eventually(() => Buffer.concat(end.chunks).length >= expected.length);
      expect(digest(Buffer.concat(end.chunks))).toBe(digest(expected));
    }
  });
});
