/**
 * `http`: HTTP/1.1 (and 1.0) on skein's Protocol API, without node:http.
 * `skein serve http` answers the demo routes (`GET /`, `POST /process` on the
 * pool, `GET /healthz`); `--option handler=./my-handler.ts` serves your own
 * handler instead. Limits and timeouts are service options (see `HTTP_DEFAULTS`).
 */
import { ownModule } from '../shared/config/loader.js';
import { HttpFactory } from './http/factory.js';
import { demoHandler } from './http/demo.js';

export { HttpFactory, type HttpFactoryInit } from './http/factory.js';
export { HttpProtocol, type HttpConnection, type HttpHandler } from './http/protocol.js';
export { HttpRequest, type HttpHeaders } from './http/request.js';
export type { HttpBody, HttpHandlerResult, HttpResponse, HttpResponseHeaders } from './http/response.js';
export { HTTP_DEFAULTS, resolveHttpLimits, type HttpLimits } from './http/limits.js';
export { HttpRequestParser } from './http/parser.js';

/** The factory `skein serve http` runs: the demo routes, processing on the pool. */
export default new HttpFactory({ handler: demoHandler, processors: ownModule('./http/processors', import.meta.url) });
