import type { Server, Socket } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { clientKey, pickClientHash, pickLeastConnections } from './balance.js';
import type { PrimaryAcceptPolicy } from '../shared/config/option-table.js';
import { ignoreError } from '../shared/net/ignore-error.js';
import { listen } from '../shared/net/listen.js';
import type { BoundEndpoint } from '../shared/ipc.js';
import type { Logger } from '../shared/log.js';
import { METRICS } from '../shared/metric-names.js';

/** A worker the acceptor may hand connections to. */
export interface AcceptTarget {
  /** Slot index: what client-hash hashes over (a replacement keeps its slot's clients). */
  readonly slot: number;
  /** Worker id: what connections are counted by (two workers share a slot during a reload). */
  readonly id: number;
  /** Sends the socket to the worker for listener `listener`; false when the worker cannot take it. */
  send(id: number, listener: number, socket: Socket): boolean;
}

/** Connections accepted while no worker can take one wait this long, at most this many. */
const HOLD_MS = 10_000;
const HOLD_MAX = 1024;

/** One endpoint the primary listens on, by index (the worker knows the same index). */
export interface AcceptorListener {
  readonly service: string;
  readonly text: string;
}

export interface AcceptorOptions {
  readonly policy: PrimaryAcceptPolicy;
  /** Whole-server connection limit. */
  readonly maxConnections?: number | undefined;
  /** Per client address, whole server (the socket's address: a PROXY endpoint's is the proxy's). */
  readonly maxConnectionsPerIp?: number | undefined;
}

interface Open {
  /** Worker id. */
  readonly worker: number;
  readonly ip: string;
}

/** An admitted connection on its way to a worker (held while none can take it). */
interface Held {
  readonly socket: Socket;
  readonly listener: number;
  readonly service: string;
  /** Its client address key ('' when unknown), counted in `perIp` from admission until it closes. */
  readonly ip: string;
  readonly until: number;
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
  private readonly perWorker = new Map<number, number>();
  /** Accepted while no worker could take a connection (start-up, a lone worker's restart). */
  private held: Held[] = [];
  private holdTimer: NodeJS.Timeout | undefined;
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

  /** Connections handed out and not yet closed, by worker id. */
  openByWorker(): ReadonlyMap<number, number> {
    return this.perWorker;
  }

  /** A worker became able to take connections: hand it (or them) what waited. */
  flush(): void {
    const held = this.held;
    this.held = [];
    for (const h of held) this.dispatch(h);
  }

  /** Listens on every endpoint; resolves with their real ports. */
  async listen(listeners: readonly AcceptorListener[]): Promise<BoundEndpoint[]> {
    const bound: BoundEndpoint[] = [];
    for (const [index, listener] of listeners.entries()) {
      const { server, bound: address } = await listen(listener.text, (socket) => this.accept(socket, index, listener), { pauseOnConnect: true });
      server.on('error', (error) => this.log.error({ err: error, endpoint: listener.text }, 'listener error'));
      this.servers.push(server);
      bound.push({ service: listener.service, ...address });
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
  workerGone(worker: number): void {
    for (const [id, entry] of this.open) {
      if (entry.worker !== worker) continue;
      this.open.delete(id);
      this.release(entry);
    }
  }

  /** Stops accepting (drain). Connections already handed out are the workers' to finish. */
  close(): Promise<void> {
    for (const h of this.held.splice(0)) this.refuseHeld(h);
    if (this.holdTimer) clearInterval(this.holdTimer);
    const servers = this.servers.splice(0);
    return Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => {});
  }

  /**
   * Admits a connection within the limits, counting it from here on: the
   * connections held until a worker can take one count against the whole-server
   * and per-IP limits as much as those handed out, so a burst that arrives
   * before the workers are ready (or while a lone worker restarts) cannot pass them.
   */
  private accept(socket: Socket, listener: number, { service }: AcceptorListener): void {
    socket.on('error', ignoreError);
    const ip = clientKey(socket.remoteAddress);
    const { maxConnections, maxConnectionsPerIp } = this.options;
    if (maxConnections !== undefined && this.open.size + this.held.length >= maxConnections) return this.refuse(socket, service, 'max_connections');
    if (maxConnectionsPerIp !== undefined && ip && (this.perIp.get(ip) ?? 0) >= maxConnectionsPerIp) {
      return this.refuse(socket, service, 'max_connections_per_ip');
    }
    if (ip) this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    this.dispatch({ socket, listener, service, ip, until: Date.now() + HOLD_MS });
  }

  /** Hands an admitted connection to a worker by policy, or holds it until one can take it. */
  private dispatch(h: Held): void {
    if (h.socket.destroyed) return this.releaseIp(h.ip);
    // A worker that died a moment ago may still be listed: try the next choice, never drop the client.
    const tried = new Set<number>();
    for (;;) {
      const candidates = this.targets()
        .filter((t) => !tried.has(t.id))
        .map((t) => ({ target: t, slot: t.slot, open: this.perWorker.get(t.id) ?? 0 }));
      const choice = this.options.policy === 'client-hash' ? pickClientHash(h.ip, candidates) : pickLeastConnections(candidates);
      if (!choice) return this.hold(h);
      const id = this.nextId++;
      const worker = choice.target.id;
      this.open.set(id, { worker, ip: h.ip });
      this.perWorker.set(worker, (this.perWorker.get(worker) ?? 0) + 1);
      if (choice.target.send(id, h.listener, h.socket)) return;
      this.open.delete(id);
      this.releaseWorker(worker);
      tried.add(worker);
    }
  }

  /** Keeps a connection (unread) until a worker can take it, within bounds. */
  private hold(h: Held): void {
    if (this.held.length >= HOLD_MAX) return this.refuseHeld(h);
    this.held.push(h);
    this.holdTimer ??= setInterval(() => {
      const now = Date.now();
      this.held = this.held.filter((w) => {
        if (w.until > now && !w.socket.destroyed) return true;
        this.refuseHeld(w);
        return false;
      });
      if (this.held.length === 0 && this.holdTimer) {
        clearInterval(this.holdTimer);
        this.holdTimer = undefined;
      }
    }, 500);
  }

  private refuseHeld(h: Held): void {
    this.releaseIp(h.ip);
    this.refuse(h.socket, h.service, 'shutting_down');
  }

  private refuse(socket: Socket, protocol: string, reason: string): void {
    this.rejected.inc({ protocol, reason });
    socket.destroy();
  }

  private release(entry: Open): void {
    this.releaseWorker(entry.worker);
    this.releaseIp(entry.ip);
  }

  private releaseWorker(worker: number): void {
    const workerCount = (this.perWorker.get(worker) ?? 1) - 1;
    if (workerCount <= 0) this.perWorker.delete(worker);
    else this.perWorker.set(worker, workerCount);
  }

  private releaseIp(ip: string): void {
    if (!ip) return;
    const ipCount = (this.perIp.get(ip) ?? 1) - 1;
    if (ipCount <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, ipCount);
  }
}
