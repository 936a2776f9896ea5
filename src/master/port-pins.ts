import { listen } from '../shared/net/listen.js';
import { formatEndpoint, parseEndpoint, withPort } from '../shared/net/endpoint.js';
import type { ServiceConfig } from '../shared/config/options.js';

/**
 * Gives each port-0 TCP endpoint a concrete free port before any worker forks,
 * so every worker, and every replacement, shares one listening handle and the
 * port stays the same for the life of the primary.
 */
export class PortPins {
  /** Port each port-0 endpoint got, by `serviceIndex/endpointIndex` (two services may both ask for tcp:0). */
  private readonly pinned = new Map<string, number>();

  /** Picks a port for every port-0 TCP endpoint of `services` that has none yet. */
  async pin(services: readonly ServiceConfig[]): Promise<void> {
    for (const [s, service] of services.entries()) {
      for (const [e, text] of service.listen.entries()) {
        const endpoint = parseEndpoint(text);
        if (endpoint.kind === 'unix' || endpoint.port !== 0 || this.pinned.has(`${s}/${e}`)) continue;
        this.pinned.set(`${s}/${e}`, await freePort(endpoint.host ?? (endpoint.kind === 'tcp6' ? '::' : undefined)));
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
}

/** A port that is free right now on `host` (all interfaces when undefined). */
async function freePort(host: string | undefined): Promise<number> {
  const { server, bound } = await listen({ kind: 'tcp', port: 0, ...(host !== undefined ? { host } : {}) }, () => {}, { exclusive: true });
  await new Promise((resolve) => server.close(resolve));
  return bound.port!;
}
