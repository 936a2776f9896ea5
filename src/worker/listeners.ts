import type { Server, Socket } from 'node:net';
import type { Address } from '../shared/protocol/address.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../shared/net/endpoint.js';
import { ignoreError } from '../shared/net/ignore-error.js';
import { listen } from '../shared/net/listen.js';
import { START, STOP, type Factory } from '../shared/protocol/factory.js';
import type { ReactorServices } from '../shared/protocol/services.js';
import type { BoundEndpoint } from '../shared/ipc.js';
import type { Logger } from '../shared/log.js';
import { Preamble } from './preamble.js';
import type { ProtocolStats } from './stats.js';

/** What the listeners need from their reactor. */
export interface ListenerHost {
  readonly log: Logger;
  /** Lent to each factory as it starts. */
  readonly services: ReactorServices;
  /** Called just before a listener binds `endpoint`. */
  beforeBind(endpoint: Endpoint): void;
  /** The service's counters. */
  stats(service: string): ProtocolStats;
  /** A factory with a processors module was started for `service`. */
  usesPool(service: string): void;
  /** Past the drain deadline: new sockets are refused (before it, they are served and drained). */
  isClosing(): boolean;
  preambleStarted(raw: Socket): void;
  preambleEnded(raw: Socket): void;
  /** A socket through its preamble, with its real peer: admission, then a protocol. */
  accept(socket: Socket, factory: Factory, stats: ProtocolStats, peer: Address): void;
}

interface Listener {
  /** Absent for an adopted listener: the primary accepts and passes sockets in. */
  readonly server: Server | undefined;
  readonly factory: Factory;
  readonly service: string;
  /** Runs a new socket through the endpoint's preamble and into a protocol. */
  readonly onSocket: (raw: Socket) => void;
}

/**
 * A reactor's listeners, by index: endpoints it listens on itself, and
 * endpoints the primary accepts on and passes sockets in for (adopted). Each
 * new socket is refused during a drain, else runs its endpoint's preamble
 * (PROXY header, TLS handshake) and goes to the reactor's admission.
 */
export class Listeners {
  private readonly listeners: Listener[] = [];

  constructor(private readonly host: ListenerHost) {}

  /** The factories, one entry per listener. */
  get factories(): ReadonlyArray<{ readonly factory: Factory; readonly service: string }> {
    return this.listeners;
  }

  /**
   * Starts `factory` (once) and listens on `endpoint`.
   * @throws ListenError when the address is in use or cannot be bound.
   */
  async listen(given: string | Endpoint, factory: Factory, service: string): Promise<BoundEndpoint> {
    const { endpoint, text } = described(given);
    const onSocket = await this.prepare(endpoint, text, factory, service);
    let opened: Awaited<ReturnType<typeof listen>>;
    try {
      this.host.beforeBind(endpoint);
      opened = await listen(endpoint, onSocket);
    } catch (error) {
      await factory[STOP]();
      throw error;
    }
    const { server, bound } = opened;
    server.on('error', (error) => this.host.log.error({ err: error, endpoint: bound.endpoint }, 'listener error'));
    this.listeners.push({ server, factory, service, onSocket });
    return { service, ...bound };
  }

  /** Starts `factory` (once) for an endpoint the primary accepts on; returns the listener's index. */
  async register(endpoint: string | Endpoint, factory: Factory, service: string): Promise<number> {
    const { endpoint: parsed, text } = described(endpoint);
    const onSocket = await this.prepare(parsed, text, factory, service);
    this.listeners.push({ server: undefined, factory, service, onSocket });
    return this.listeners.length - 1;
  }

  /** Runs an accepted socket exactly as if listener `index` had accepted it. */
  adopt(index: number, socket: Socket): void {
    const listener = this.listeners[index];
    if (!listener) {
      this.host.log.error({ listener: index }, 'adopted a socket for an unknown listener; closed');
      socket.destroy();
      return;
    }
    listener.onSocket(socket);
  }

  /** Stops accepting. Not `close(callback)`: its callback waits for every connection to end. */
  close(): void {
    for (const l of this.listeners) l.server?.close();
  }

  /** Calls each factory's `stopFactory`; a failure is logged, the others still stop. */
  async stopFactories(): Promise<void> {
    for (const l of this.listeners) {
      try {
        await l.factory[STOP]();
      } catch (error) {
        this.host.log.error({ err: error, protocol: l.service }, 'stopFactory failed');
      }
    }
  }

  /** Starts `factory` and builds the accept path of endpoint `parsed` (written `text`, as given, for logs). */
  private async prepare(parsed: Endpoint, text: string, factory: Factory, service: string): Promise<(raw: Socket) => void> {
    const host = this.host;
    if (factory.protocolName === 'unknown') factory.protocolName = service;
    await factory[START](host.services);
    const stats = host.stats(service);
    if (factory.processors !== undefined) host.usesPool(service);
    const preamble = new Preamble(parsed, text, host.log, stats);
    const acceptNow = (socket: Socket, peer: Address) => host.accept(socket, factory, stats, peer);
    return (raw: Socket) => {
      if (host.isClosing()) {
        raw.on('error', ignoreError);
        stats.reject('shutting_down');
        raw.destroy();
        return;
      }
      // Plain TCP: the protocol is attached before this returns (accept guards the socket's errors).
      if (preamble.immediate) {
        preamble.run(raw, acceptNow);
        return;
      }
      // A socket error before the protocol exists must never reach the process.
      raw.on('error', ignoreError);
      // A connection that reaches us while we drain (handed over just before the listener
      // closed, its request perhaps already sent) is served and drained like the others:
      // its protocol hears `drain()` as soon as it exists. So is one whose preamble
      // (PROXY header, TLS handshake) finishes during a drain.
      host.preambleStarted(raw);
      preamble.run(raw, (socket, peer) => {
        // Counted as open before it leaves the preamble, so a drain waiting for everything to end never sees a gap.
        host.accept(socket, factory, stats, peer);
        host.preambleEnded(raw);
      });
    };
  }
}

/** An endpoint as given (text or parsed): parsed once, and its text as the user wrote it, for logs. */
function described(given: string | Endpoint): { endpoint: Endpoint; text: string } {
  return typeof given === 'string' ? { endpoint: parseEndpoint(given), text: given } : { endpoint: given, text: formatEndpoint(given) };
}
