/**
 * The routes `skein serve http` answers when no handler module is given:
 * `GET /` (a small text), `POST /process` (the body, processed on the pool),
 * `GET /healthz`.
 */
import type { HttpConnection } from './protocol.js';
import type { ProcessedBody } from './processors.js';
import type { HttpRequest } from './request.js';
import type { HttpHandlerResult, HttpResponse } from './response.js';

const HELLO: HttpResponse = { body: 'Hello from skein\n' };
const HEALTHY: HttpResponse = { body: 'ok\n' };
const NOT_FOUND: HttpResponse = { status: 404, body: 'Not Found\n' };

function methodNotAllowed(allow: string): HttpResponse {
  return { status: 405, headers: { allow }, body: 'Method Not Allowed\n' };
}

/** The demo handler. */
export function demoHandler(request: HttpRequest, connection: HttpConnection): HttpHandlerResult | Promise<HttpHandlerResult> {
  switch (request.path) {
    case '/':
      return request.method === 'GET' || request.method === 'HEAD' ? HELLO : methodNotAllowed('GET, HEAD');
    case '/healthz':
      return request.method === 'GET' || request.method === 'HEAD' ? HEALTHY : methodNotAllowed('GET, HEAD');
    case '/process':
      if (request.method !== 'POST') return methodNotAllowed('POST');
      return connection.offload<ProcessedBody>('processBody', request.body).then((out) => ({
        headers: { 'x-processed-by-thread': out.threadId },
        body: out.body,
      }));
    default:
      return NOT_FOUND;
  }
}
