import type { Server } from 'node:net';
import { listen } from '../shared/net/listen.js';
import { formatEndpoint, parseEndpoint, withPort } from '../shared/net/endpoint.js';
import type { ServiceConfig } from '../shared/config/options.js';

/**
 * Gives each port-0 TCP endpoint a concrete free port before any worker forks,
 * so every worker, and every replacement, shares one listening handle and the
 * port stays the same for the life of the primary.
 *
 * The port is found by listening on port 0, and that listener is held until
 * the first worker is about to bind the port ({@link release}, which a worker
 * asks for just before it listens). Closing it at once would leave the port
 * free for as long as a worker takes to start, and anything else binding or
 * connecting on the host in that time could take it.
 */
export class PortPins {
  /** Port each port-0 endpoint got, by `serviceIndex/endpointIndex` (two services may both ask for tcp:0). */
  private readonly pinned = new Map<string, number>();
  /** The listeners holding pinned ports no worker has bound yet. */
  private readonly held = new Map<number, Server[]>();

  /** Picks a port for every port-0 TCP endpoint of `services` that has none yet, and holds it. */
  async pin(services: readonly ServiceConfig[]): Promise<void> {
    for (const [s, service] of services.entries()) {
      for (const [e, text] of service.listen.entries()) {
        const endpoint = parseEndpoint(text);
        if (endpoint.kind === 'unix' || endpoint.port !== 0 || this.pinned.has(`${s}/${e}`)) continue;
        const host = endpoint.host ?? (endpoint.kind === 'tcp6' ? '::' : undefined);
        const { server, bound } = await listen({ kind: 'tcp', port: 0, ...(host !== undefined ? { host } : {}) }, (socket) => socket.destroy(), {
          exclusive: true,
          purpose: `find a free port for ${text}`,
        });
        server.unref();
        this.pinned.set(`${s}/${e}`, bound.port!);
        this.held.set(bound.port!, [...(this.held.get(bound.port!) ?? []), server]);
      }
    }
  }

  /** `services` with port-0 endpoints replaced by their pinned ports. */
  apply(services: readonly ServiceConfig[]): ServiceConfig[] {
    return services.map((service, s) => ({
      ...service,
      listen: service.listen.map((text, e) => {
        const port = this.pinned.get(`${s}/${e}`);
        return port === undefined ? text : formatEndpoint(withPort(parseEndpoint(text), port));
      }),
    }));
  }

  /**
   * Frees a held port for the listener about to bind it. The close is
   * synchronous, so a bind handled after this call (a worker's, which node:cluster
   * performs in this process) finds the port free. A port not held is ignored.
   */
  release(port: number): void {
    for (const server of this.held.get(port) ?? []) server.close();
    this.held.delete(port);
  }

  /** Frees every held port (the primary listens itself, or stops). */
  releaseAll(): void {
    for (const port of [...this.held.keys()]) this.release(port);
  }
}
