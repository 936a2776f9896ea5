import type { Socket } from 'node:net';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';
import { errorCode, IdleTimeoutError } from '../shared/errors.js';
import { formatAddress } from '../shared/address.js';
import type { Protocol } from '../shared/protocol.js';
import { ProtocolDriver } from '../shared/protocol-driver.js';
import { SocketTransport, type WaterMarks } from '../shared/socket-transport.js';
import type { ProtocolStats } from './stats.js';

/**
 * One accepted socket running one protocol: wires socket events to the
 * protocol through the lifecycle driver and keeps the service's counters.
 */
export class Connection {
  readonly transport: SocketTransport;
  readonly driver: ProtocolDriver;
  /** Reactor clock seconds of the last byte read (for the idle sweep). */
  lastActivity: number;

  constructor(
    socket: Socket,
    readonly protocol: Protocol,
    private readonly stats: ProtocolStats,
    marks: WaterMarks,
    log: Logger,
    clock: Clock,
    onClose: (connection: Connection) => void,
  ) {
    this.lastActivity = clock.seconds();
    this.transport = new SocketTransport(socket, marks, stats, () => this.driver.writeLost());
    this.driver = new ProtocolDriver(protocol, this.transport, {
      callbackFailed: (error, phase) => {
        stats.error(errorCode(error));
        log.warn(
          { err: error.cause ?? error, phase, peer: formatAddress(this.transport.getPeer()), protocol: stats.protocol },
          `protocol ${phase} failed; connection aborted`,
        );
      },
    });
    stats.connectionsActive++;
    stats.connectionsTotal++;
    socket.on('data', (chunk: Buffer) => {
      stats.bytesReceived += chunk.length;
      this.lastActivity = clock.seconds();
      const transport = this.transport;
      transport.beginDispatch();
      this.driver.data(chunk);
      transport.endDispatch();
    });
    socket.on('end', () => this.driver.readLost());
    socket.on('close', () => {
      stats.connectionsActive--;
      this.transport.closed();
      this.driver.lose(this.transport.lostReason());
      onClose(this);
    });
  }

  /** Calls `connectionMade`. */
  start(): void {
    this.driver.connect();
  }

  /** Closes an idle connection, counting it as a protocol error. */
  timeOut(): void {
    this.stats.error(IdleTimeoutError.code);
    this.transport.abortConnectionWith(new IdleTimeoutError());
  }
}
