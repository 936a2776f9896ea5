import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { bindServer } from '../shared/net/listen.js';
import type { Logger } from '../shared/log.js';
import { CONTENT_TYPES, negotiateFormat, type ExpositionFormat } from './exposition.js';

/** What the metrics/health endpoint asks of the primary. */
export interface HealthSource {
  /** The exposition in `format`; must settle within the scrape deadline. */
  scrape(format: ExpositionFormat): Promise<string>;
  /** At least one worker listening and the server not draining. */
  ready(): boolean;
}

/**
 * The primary's HTTP endpoint: `GET /metrics` (every worker, aggregated; in
 * OpenMetrics when the `Accept` header asks for it), `GET /healthz` (the
 * primary lives) and `GET /readyz` (503 while draining or with no worker
 * listening). With a token, `/metrics` requires `Authorization: Bearer TOKEN`;
 * the probes stay open, since they reveal nothing and kubelets send no token.
 */
export class HealthServer {
  private server: Server | undefined;
  private readonly tokenDigest: Buffer | undefined;

  constructor(
    private readonly source: HealthSource,
    private readonly log: Logger,
    token?: string,
  ) {
    this.tokenDigest = token === undefined ? undefined : digest(token);
  }

  /**
   * Listens; resolves with the bound port.
   * @throws ListenError when the address is in use or cannot be bound.
   */
  async listen(port: number, host: string): Promise<number> {
    const server = createServer((req, res) => this.handle(req, res));
    this.server = server;
    const bound = await bindServer(server, { kind: 'tcp', port, host }, { purpose: `serve metrics on ${host}:${port}` });
    return bound.port ?? port;
  }

  close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    switch (path) {
      case '/metrics':
        this.metrics(req, res);
        return;
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const ready = this.source.ready();
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
        return;
      }
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz or /readyz\n');
    }
  }

  private metrics(req: IncomingMessage, res: ServerResponse): void {
    if (!this.authorized(req.headers.authorization)) {
      res
        .writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="skein metrics"' })
        .end('unauthorized: send Authorization: Bearer <metrics token>\n');
      return;
    }
    const format = negotiateFormat(req.headers.accept);
    this.source.scrape(format).then(
      (body) => {
        res.writeHead(200, { 'content-type': CONTENT_TYPES[format] }).end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        this.log.error({ err: error }, 'scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('scrape failed\n');
      },
    );
  }

  /** Compares digests in constant time, so neither the token's content nor its length leaks through timing. */
  private authorized(header: string | undefined): boolean {
    if (!this.tokenDigest) return true;
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
    const given = digest(match?.[1] ?? '');
    return timingSafeEqual(given, this.tokenDigest) && match !== null;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
