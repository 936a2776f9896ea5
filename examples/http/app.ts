/**
 * An HTTP app on skein's own HTTP/1.1 protocol: a handler takes the parsed
 * request and returns a response (or a body, or a promise of either).
 *
 *   npx skein serve examples/http/app.ts --port 8080
 *   curl -s localhost:8080/hello?name=you
 */
import { HttpFactory, type HttpHandlerResult, type HttpRequest } from 'skein';

const started = Date.now();

export async function handle(request: HttpRequest): Promise<HttpHandlerResult> {
  if (request.method === 'GET' && request.path === '/') return 'Hello from skein\n';
  if (request.method === 'GET' && request.path === '/hello') {
    const name = request.query.get('name') ?? 'world';
    return { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hello: name }) };
  }
  if (request.method === 'POST' && request.path === '/echo') {
    return { headers: { 'content-type': request.headers['content-type'] ?? 'application/octet-stream' }, body: request.body };
  }
  if (request.path === '/uptime') {
    // A streamed body (chunked encoding): any iterable or async iterable of chunks.
    return { body: (async function* () { yield 'up for '; yield `${Math.round((Date.now() - started) / 1000)} s\n`; })() };
  }
  return { status: 404, headers: { 'cache-control': 'no-store' }, body: 'no such page\n' };
}

export default new HttpFactory({ handler: handle });
