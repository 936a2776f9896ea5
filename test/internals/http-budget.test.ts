/**
 * The per-connection budget of the `http` protocol (issue 15, "no client can
 * hurt anyone but itself"): requests already read wait as unread bytes while
 * responses are queued past the high-water mark, a read of tiny chunks is parsed
 * in slices, a refused request stops the reading, and a half-close still
 * gets every answer. Real sockets through attachProtocol, as the reactor runs
 * them; sizes and counts, no timings.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpFactory } from '../../src/protocols/http/factory.js';
import type { HttpHandler } from '../../src/protocols/http/protocol.js';
import type { SocketTransport } from '../../src/shared/net/socket-transport.js';
import { FRAMES_PER_TURN } from '../../src/shared/protocol/framing/buffered-receiver.js';
import { realClock } from '../../src/shared/protocol/clock.js';
import { eventually } from '../helpers/server.js';
import { closeSocketPairs, serveProtocol, socketPair } from '../helpers/socket-pair.js';

const MARKS = { high: 64 * 1024, low: 16 * 1024 };
const GET = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
afterEach(closeSocketPairs);

interface Served {
  transport: SocketTransport;
  socket: Socket;
  peer: Socket;
  /** Requests the handler saw. */
  handled: () => number;
  /** Parser runs per dispatch (one entry per dispatch). */
  dispatches: number[];
}

/** Serves one connection of the `http` protocol with `handler`. */
async function serve(handler: HttpHandler = () => ({ body: 'Hello from skein\n' })): Promise<Served> {
  let handled = 0;
  const factory = new HttpFactory({ handler: (request, connection) => (handled++, handler(request, connection)) });
  factory.reactor = { clock: realClock, offload: () => Promise.reject(new Error('no pool')) };
  const { socket, peer } = await socketPair();
  socket.on('error', () => {});
  const protocol = factory.buildProtocol({ type: 'TCP', host: '127.0.0.1', port: 1 })!;
  const { transport, dispatches } = serveProtocol(socket, protocol, MARKS);
  return { transport, socket, peer, handled: () => handled, dispatches };
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe('http keeps to the per-connection budget', () => {
  it('stops turning pipelined requests into responses once unsent output passes the high-water mark', async () => {
    const { transport, peer, handled } = await serve();
    peer.pause();
    const n = 40_000; // 1 MiB of requests, about 6 MiB of responses: more than the kernel's buffers take
    peer.write(GET.repeat(n));
    let last = -1;
    await eventually(() => {
      const settled = handled() === last && transport.readingPaused;
      last = handled();
      return settled;
    }, 20_000, 200);
    expect(handled()).toBeLessThan(n);
    // The high-water mark plus one response: not the rest of a 64 KiB read of requests (~360 KiB of responses).
    expect(transport.socket.writableLength).toBeLessThanOrEqual(MARKS.high + 1024);
    // Everything is answered, in order, once the peer reads.
    let text = '';
    peer.setEncoding('latin1');
    peer.on('data', (c: string) => (text += c));
    peer.resume();
    await eventually(() => count(text, 'Hello from skein\n') === n, 40_000);
    expect(handled()).toBe(n);
  }, 60_000);

  it('parses a read of 1-byte chunks in slices of FRAMES_PER_TURN lines, and the body comes whole', async () => {
    const served = await serve((request) => ({ body: `${request.body.length}\n` }));
    let text = '';
    served.peer.on('data', (c: Buffer) => (text += c.toString('latin1')));
    const chunks = 20_000; // 2 lines each: 40,000 lines, 120 KB on the wire
    served.peer.write(`POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${'1\r\nA\r\n'.repeat(chunks)}0\r\n\r\n`);
    await eventually(() => text.includes(`\r\n\r\n${chunks}\n`));
    // One dispatch per slice (plus the reads): never all 40,000 lines in one.
    expect(served.dispatches.length).toBeGreaterThanOrEqual((2 * chunks) / FRAMES_PER_TURN);
    expect(served.handled()).toBe(1);
  });

  it('answers every request sent before a half-close, also those held back between slices', async () => {
    const { peer, handled } = await serve();
    let text = '';
    peer.on('data', (c: Buffer) => (text += c.toString('latin1')));
    const n = 5000;
    peer.end(GET.repeat(n));
    await once(peer, 'close');
    expect(count(text, 'HTTP/1.1 200')).toBe(n);
    expect(handled()).toBe(n);
  });

  it('stops reading once a request is refused: a 4 MiB request line costs about one read, not 4 MiB', async () => {
    const { socket, peer } = await serve();
    let text = '';
    peer.on('data', (c: Buffer) => (text += c.toString('latin1')));
    peer.write(`GET /${'a'.repeat(4 * 1024 * 1024)}`);
    await once(socket, 'close');
    await eventually(() => text.includes('HTTP/1.1 414'));
    // Refused once past the 16 KiB limit: what came before, the 64 KiB read that passed it, and at most
    // one more read already under way (reading on until the response was out took three or more).
    expect(socket.bytesRead).toBeLessThanOrEqual(16 * 1024 + 2 * 64 * 1024);
  });
});
