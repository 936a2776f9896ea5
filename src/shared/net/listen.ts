import { chmod } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { ListenError } from '../protocol/errors.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from './endpoint.js';

/** Where a listener ended up: the endpoint as configured, and the address and real port it got. */
export interface BoundAddress {
  /** The endpoint string the listener was configured with. */
  readonly endpoint: string;
  /** The port it got (undefined for unix sockets). */
  readonly port?: number;
  readonly address: string;
}

/** How {@link listen} treats accepted sockets. */
export interface ListenOptions {
  /** Hand over accepted sockets paused, nothing read (for a listener that passes them on unread). */
  readonly pauseOnConnect?: boolean;
  /** Never share the handle with other processes of a cluster (a probe for a free port). */
  readonly exclusive?: boolean;
  /** What the error message says was attempted (default `listen on ENDPOINT`). */
  readonly purpose?: string;
}

/**
 * The one way skein listens: creates a server for `endpoint`, binds it, and
 * resolves with the server and where it is bound. Every listener comes
 * through here (the reactor's, an acceptor's, the metrics endpoint's), so they
 * fail alike and a unix socket gets its `mode=` whoever listens on it.
 * @throws ListenError when the address is in use, not permitted, or cannot be bound.
 */
export async function listen(
  endpoint: string | Endpoint,
  onConnection: (socket: Socket) => void,
  options: ListenOptions = {},
): Promise<{ server: Server; bound: BoundAddress }> {
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: options.pauseOnConnect ?? false }, onConnection);
  const bound = await bindServer(server, endpoint, options);
  return { server, bound };
}

/**
 * Binds an existing server (a `node:net` or `node:http` one) to `endpoint`;
 * for a unix socket with `mode=`, applies the mode before resolving.
 * @throws ListenError as {@link listen}.
 */
export async function bindServer(server: Server, endpoint: string | Endpoint, options: ListenOptions = {}): Promise<BoundAddress> {
  const parsed = typeof endpoint === 'string' ? parseEndpoint(endpoint) : endpoint;
  const text = typeof endpoint === 'string' ? endpoint : formatEndpoint(endpoint);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenArguments(parsed, options.exclusive), () => {
        server.off('error', reject);
        resolve();
      });
    });
    if (parsed.kind === 'unix' && parsed.mode !== undefined) await chmod(parsed.path, parsed.mode);
  } catch (error) {
    if (server.listening) server.close();
    throw new ListenError(`cannot ${options.purpose ?? `listen on ${text}`}: ${reason(error)}`, { cause: error });
  }
  const address = server.address();
  if (address && typeof address === 'object') return { endpoint: text, port: address.port, address: address.address };
  return { endpoint: text, address: String(address) };
}

function listenArguments(endpoint: Endpoint, exclusive: boolean | undefined) {
  const common = { ...(endpoint.backlog ? { backlog: endpoint.backlog } : {}), ...(exclusive ? { exclusive } : {}) };
  if (endpoint.kind === 'unix') return { path: endpoint.path, ...common };
  const host = endpoint.host ?? (endpoint.kind === 'tcp6' ? '::' : undefined);
  return { port: endpoint.port, ...(host !== undefined ? { host } : {}), ...(endpoint.kind === 'tcp6' ? { ipv6Only: true } : {}), ...common };
}

function reason(error: unknown): string {
  switch ((error as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return 'address already in use';
    case 'EACCES':
      return 'permission denied';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
