import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Clock } from '../shared/protocol/clock.js';
import type { Logger } from '../shared/log.js';
import { errorCode, IdleTimeoutError, type ProtocolCallbackError } from '../shared/protocol/errors.js';
import { MessageMeter } from '../shared/protocol/message-meter.js';
import { formatAddress, type Address } from '../shared/protocol/address.js';
import type { AnyProtocol } from '../shared/protocol/protocol.js';
import type { CallbackPhase, ProtocolDriver } from '../shared/protocol/driver.js';
import type { SocketTransport, WaterMarks } from '../shared/net/socket-transport.js';
import { attachProtocol, type SocketEvents } from '../shared/net/attach.js';
import type { ProtocolStats } from './stats.js';

/** Who keeps a worker's open connections (the reactor). */
export interface ConnectionOwner {
  connectionClosed(connection: Connection): void;
}

/**
 * One accepted socket running one protocol: wires socket events to the
 * protocol through the lifecycle driver and keeps the service's counters.
 * It is the driver's event sink itself: what a connection costs in objects
 * is paid once per accepted socket, on every core.
 */
export class Connection implements SocketEvents {
  readonly transport: SocketTransport;
  readonly driver: ProtocolDriver;
  /**
   * Reactor clock seconds when the idle sweep last saw bytes move (read, or written and taken by the
   * peer). The sweep reads the socket's own byte counts, so the hot path pays no clock read per chunk.
   */
  lastActivity: number;
  private lastBytesWritten = 0;
  private lastBytesRead = 0;

  constructor(
    private readonly socket: Socket,
    peer: Address,
    readonly protocol: AnyProtocol,
    private readonly stats: ProtocolStats,
    marks: WaterMarks,
    private readonly log: Logger,
    clock: Clock,
    /** Time messages to their replies (off when the metrics endpoint is). */
    timeMessages: boolean,
    /** Told once the connection has closed. */
    private readonly owner: ConnectionOwner,
  ) {
    this.lastActivity = clock.seconds();
    const meter = timeMessages ? new MessageMeter(stats, undefined, stats) : undefined;
    const attached = attachProtocol(socket, protocol, {
      marks,
      counters: stats,
      peer,
      meter,
      events: this,
    });
    this.transport = attached.transport;
    this.driver = attached.driver;
    // As node:http and Netty do: a reply never waits for the ACK of the previous one (Nagle with
    // delayed ACKs stalls pipelined replies); a protocol may turn it off with transport.setTcpNoDelay(false).
    // Deferred to the first write Nagle could hold, except after a TLS handshake (its own writes went first).
    if (socket instanceof TLSSocket) socket.setNoDelay(true);
    else this.transport.deferNoDelay();
    stats.connectionsActive++;
    stats.connectionsTotal++;
  }

  /** @internal {@link SocketEvents}: the socket closed, and the protocol heard `connectionLost`. */
  socketClosed(): void {
    this.stats.connectionsActive--;
    this.owner.connectionClosed(this);
  }

  /** @internal {@link SocketEvents}: a protocol callback threw or rejected. */
  callbackFailed(error: ProtocolCallbackError, phase: CallbackPhase): void {
    this.stats.error(errorCode(error));
    this.log.warn(
      { err: error.cause ?? error, phase, peer: formatAddress(this.transport.getPeer()), protocol: this.stats.protocol },
      `protocol ${phase} failed; connection aborted`,
    );
  }

  /** @internal {@link SocketEvents}: the protocol closed with `closeWithError`. */
  protocolError(error: Error): void {
    this.stats.error(errorCode(error));
    // A peer breaking the protocol is routine (and peer-controlled): keep it out of warn-level logs.
    this.log.debug(
      { code: errorCode(error), reason: error.message, peer: formatAddress(this.transport.getPeer()), protocol: this.stats.protocol },
      'connection closed with a protocol error',
    );
  }

  /** @internal {@link SocketEvents}: the protocol counted an error it answered itself. */
  protocolErrorCounted(error: Error): void {
    this.stats.error(errorCode(error));
  }

  /** Calls `connectionMade`, then starts reading unless the protocol paused. */
  start(): void {
    // `connectionMade` runs as a dispatch, as `dataReceived` does: what it writes (a greeting) leaves in
    // one write when it returns, not through a cork and the next tick.
    this.transport.beginDispatch();
    this.driver.connect();
    this.transport.endDispatch();
    // A preamble (PROXY header) may have left the socket paused; flow now unless a pause reason holds.
    if (this.transport.readingPausedFor.size === 0 && !this.socket.destroyed) this.socket.resume();
  }

  /**
   * Seconds without activity at reactor time `now` (activity is noticed at the sweep, so a timeout
   * fires at most one sweep interval late, never early). Output counts as activity
   * only once the peer takes it (bytes leave the socket), so a peer that
   * neither sends nor reads is idle even while we have output queued.
   */
  idleFor(now: number): number {
    const socket = this.transport.socket;
    const written = socket.bytesWritten - socket.writableLength;
    if (written !== this.lastBytesWritten || socket.bytesRead !== this.lastBytesRead) {
      this.lastBytesWritten = written;
      this.lastBytesRead = socket.bytesRead;
      this.lastActivity = now;
    }
    return now - this.lastActivity;
  }

  /** The reactor is draining: the protocol's `drain` hook, through the driver (a throw aborts and is counted). */
  drain(): void {
    this.driver.drain();
  }

  /** Closes now, whatever is pending: the drain deadline passed (`connectionLost(ShutdownError)`). */
  shutdown(): void {
    this.transport.shutdown();
  }

  /** Closes an idle connection, counting it as a protocol error. */
  timeOut(): void {
    this.driver.closeWithError(new IdleTimeoutError(`connection was idle for more than the idle timeout`));
  }
}
