import { createServer, type Server, type Socket } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { clientKey, pickClientHash, pickLeastConnections, type BalancePolicy } from '../shared/balance.js';
import { formatEndpoint, parseEndpoint } from '../shared/endpoint.js';
import { ListenError } from '../shared/errors.js';
import type { BoundEndpoint } from '../shared/ipc.js';
import type { Logger } from '../shared/log.js';
import { METRICS } from '../shared/metric-names.js';

/** A worker the acceptor may hand connections to. */
export interface AcceptTarget {
  readonly slot: number;
  /** Sends the socket to the worker for listener `listener`; false when the worker cannot take it. */
  send(id: number, listener: number, socket: Socket): boolean;
}

/** One endpoint the primary listens on, by index (the worker knows the same index). */
export interface AcceptorListener {
  readonly service: string;
  readonly text: string;
}

export interface AcceptorOptions {
  readonly policy: Exclude<BalancePolicy, 'round-robin'>;
  /** Whole-server connection limit. */
  readonly maxConnections?: number | undefined;
  /** Per client address, whole server (the socket's address: a PROXY endpoint's is the proxy's). */
  readonly maxConnectionsPerIp?: number | undefined;
}

interface Open {
  readonly slot: number;
  readonly ip: string;
}

/**
 * Accepts connections in the primary (paused, nothing read), enforces the
 * cluster-wide limits before any worker pays for the connection, chooses a
 * worker by policy and passes it the socket over the cluster IPC channel.
 * Counts are exact: workers send a notice when an adopted connection closes.
 */
export class Acceptor {
  /** Rejections counted in the primary (summed with the workers' in a scrape). */
  readonly registry = new Registry();
  private readonly rejected: Counter<string>;
  private readonly servers: Server[] = [];
  private readonly open = new Map<number, Open>();
  private readonly perSlot = new Map<number, number>();
  private readonly perIp = new Map<string, number>();
  private nextId = 1;

  constructor(
    private readonly options: AcceptorOptions,
    private readonly targets: () => readonly AcceptTarget[],
    private readonly log: Logger,
  ) {
    this.rejected = new Counter({
      name: METRICS.connectionsRejected,
      help: 'Connections refused, by reason.',
      labelNames: ['protocol', 'reason'],
      registers: [this.registry],
    });
  }

  /** Connections handed out and not yet closed, by slot. */
  openBySlot(): ReadonlyMap<number, number> {
    return this.perSlot;
  }

  /** Listens on every endpoint; resolves with their real ports. */
  async listen(listeners: readonly AcceptorListener[]): Promise<BoundEndpoint[]> {
    const bound: BoundEndpoint[] = [];
    for (const [index, listener] of listeners.entries()) {
      const endpoint = parseEndpoint(listener.text);
      const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => this.accept(socket, index, listener));
      server.on('error', (error) => this.log.error({ err: error, endpoint: listener.text }, 'listener error'));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const done = () => {
          server.off('error', reject);
          resolve();
        };
        if (endpoint.kind === 'unix') server.listen({ path: endpoint.path, ...(endpoint.backlog ? { backlog: endpoint.backlog } : {}) }, done);
        else
          server.listen(
            {
              port: endpoint.port,
              ...(endpoint.host !== undefined ? { host: endpoint.host } : endpoint.kind === 'tcp6' ? { host: '::' } : {}),
              ...(endpoint.kind === 'tcp6' ? { ipv6Only: true } : {}),
              ...(endpoint.backlog ? { backlog: endpoint.backlog } : {}),
            },
            done,
          );
      }).catch((error: NodeJS.ErrnoException) => {
        const why = error.code === 'EADDRINUSE' ? 'address already in use' : error.message;
        throw new ListenError(`cannot listen on ${listener.text}: ${why}`, { cause: error });
      });
      this.servers.push(server);
      const address = server.address();
      bound.push(
        address && typeof address === 'object'
          ? { service: listener.service, endpoint: formatEndpoint(endpoint), port: address.port, address: address.address }
          : { service: listener.service, endpoint: listener.text, address: String(address) },
      );
    }
    return bound;
  }

  /** A worker says an adopted connection closed. */
  closed(id: number): void {
    const entry = this.open.get(id);
    if (!entry) return;
    this.open.delete(id);
    this.release(entry);
  }

  /** A worker is gone: every connection it held is gone with it. */
  workerGone(slot: number): void {
    for (const [id, entry] of this.open) {
      if (entry.slot !== slot) continue;
      this.open.delete(id);
      this.release(entry);
    }
  }

  /** Stops accepting (drain). Connections already handed out are the workers' to finish. */
  close(): Promise<void> {
    const servers = this.servers.splice(0);
    return Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => {});
  }

  private accept(socket: Socket, listener: number, { service }: AcceptorListener): void {
    socket.on('error', () => {});
    const ip = clientKey(socket.remoteAddress);
    const { maxConnections, maxConnectionsPerIp } = this.options;
    if (maxConnections !== undefined && this.open.size >= maxConnections) return this.refuse(socket, service, 'max_connections');
    if (maxConnectionsPerIp !== undefined && ip && (this.perIp.get(ip) ?? 0) >= maxConnectionsPerIp) {
      return this.refuse(socket, service, 'max_connections_per_ip');
    }
    const targets = this.targets();
    const candidates = targets.map((t) => ({ target: t, slot: t.slot, open: this.perSlot.get(t.slot) ?? 0 }));
    const choice = this.options.policy === 'client-hash' ? pickClientHash(ip, candidates) : pickLeastConnections(candidates);
    if (!choice) return this.refuse(socket, service, 'shutting_down');
    const id = this.nextId++;
    const entry = { slot: choice.slot, ip };
    this.open.set(id, entry);
    this.perSlot.set(entry.slot, (this.perSlot.get(entry.slot) ?? 0) + 1);
    if (ip) this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    if (!choice.target.send(id, listener, socket)) {
      this.closed(id);
      socket.destroy();
    }
  }

  private refuse(socket: Socket, protocol: string, reason: string): void {
    this.rejected.inc({ protocol, reason });
    socket.destroy();
  }

  private release(entry: Open): void {
    const slotCount = (this.perSlot.get(entry.slot) ?? 1) - 1;
    if (slotCount <= 0) this.perSlot.delete(entry.slot);
    else this.perSlot.set(entry.slot, slotCount);
    if (!entry.ip) return;
    const ipCount = (this.perIp.get(entry.ip) ?? 1) - 1;
    if (ipCount <= 0) this.perIp.delete(entry.ip);
    else this.perIp.set(entry.ip, ipCount);
  }
}
