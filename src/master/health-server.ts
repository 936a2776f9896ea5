import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../shared/log.js';

/** What the metrics/health endpoint asks of the primary. */
export interface HealthSource {
  /** The exposition, in the format the scraper asked for (`Accept` header). */
  scrape(accept: string | undefined): Promise<{ body: string; contentType: string }>;
  /** At least one worker listening and the server not draining. */
  ready(): boolean;
}

/**
 * The primary's HTTP endpoint: `GET /metrics` (every worker, aggregated),
 * `GET /healthz` (the primary lives) and `GET /readyz` (503 while draining or
 * with no worker listening).
 */
export class HealthServer {
  private server: Server | undefined;

  constructor(
    private readonly source: HealthSource,
    private readonly log: Logger,
  ) {}

  /** Listens; resolves with the bound port. */
  listen(port: number, host: string): Promise<number> {
    const server = createServer((req, res) => this.handle(req, res));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
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
        this.source.scrape(req.headers.accept).then(
          ({ body, contentType }) => {
            res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body);
          },
          (error: unknown) => {
            this.log.error({ err: error }, 'scrape failed');
            res.writeHead(500, { 'content-type': 'text/plain' }).end('scrape failed\n');
          },
        );
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
}
