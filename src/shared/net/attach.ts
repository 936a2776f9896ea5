import type { Socket } from 'node:net';
import type { Address } from '../protocol/address.js';
import { ProtocolDriver, type DriverEvents } from '../protocol/driver.js';
import { LENT_READS } from '../protocol/link.js';
import type { MessageMeter } from '../protocol/message-meter.js';
import type { AnyProtocol } from '../protocol/protocol.js';
import { readDirect } from './direct-read.js';
import { SocketTransport, type WaterMarks } from './socket-transport.js';

/** Where a connection counts its bytes (a server's per-service stats; a private pair on the client). */
export interface ByteCounters {
  bytesSent: number;
  bytesReceived: number;
}

/** What the owner of an attached socket hears: the driver's events, and the socket's close. */
export interface SocketEvents extends DriverEvents {
  /** The socket has closed and the protocol heard `connectionLost`. */
  socketClosed?(): void;
}

/** How {@link attachProtocol} wires one socket. */
export interface AttachOptions {
  /** Unsent output that pauses reading, and the level it resumes at (default: the configured defaults). */
  readonly marks?: WaterMarks;
  readonly counters?: ByteCounters;
  /** The peer, when known better than the socket knows it (from a PROXY header). */
  readonly peer?: Address;
  /** Times frames to their replies (absent when nobody reads the timings). */
  readonly meter?: MessageMeter | undefined;
  /** What the owner hears: callback failures, protocol errors, the close. */
  readonly events: SocketEvents;
}

/** A socket attached to a protocol. */
export interface Attached {
  readonly transport: SocketTransport;
  readonly driver: ProtocolDriver;
}

/**
 * Where a socket becomes a protocol, on either side (a server's accepted
 * connection, a client's outgoing one): wraps the socket in a
 * {@link SocketTransport}, puts a {@link ProtocolDriver} between it and the
 * protocol, and routes the socket's events to the driver. Each chunk read is
 * delivered inside one dispatch, so the replies it causes leave in one write.
 * The caller calls `driver.connect()` when the protocol should hear
 * `connectionMade`.
 */
export function attachProtocol(socket: Socket, protocol: AnyProtocol, options: AttachOptions): Attached {
  const counters = options.counters ?? { bytesSent: 0, bytesReceived: 0 };
  const meter = options.meter;
  const transport = new SocketTransport(socket, options.marks, counters, () => driver.writeLost(), options.peer, meter);
  const driver = new ProtocolDriver(protocol, transport, options.events, meter);
  const deliver = (chunk: Buffer) => {
    meter?.arrived();
    counters.bytesReceived += chunk.length;
    transport.beginDispatch();
    driver.data(chunk);
    transport.endDispatch();
  };
  const lends = (protocol as { readonly [LENT_READS]?: boolean })[LENT_READS] === true;
  if (!readDirect(socket, deliver, lends)) socket.on('data', deliver);
  // Frames a receiver held back (its budget) come back this way, with an empty chunk.
  transport.deliver = deliver;
  socket.on('end', () => driver.readLost());
  const events = options.events;
  // 'close' comes once: `on`, not `once` (whose wrapper is two more objects per connection).
  socket.on('close', () => {
    transport.closed();
    driver.lose(transport.lostReason());
    events.socketClosed?.();
  });
  return { transport, driver };
}
