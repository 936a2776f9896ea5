/**
 * One parsed HTTP request, as a handler sees it. Cheap to build: the path,
 * query string and parsed query are computed on first use.
 */

/** Header fields by lower-case name; repeated fields are joined with `, ` (`; ` for cookie). */
export type HttpHeaders = Record<string, string>;

/**
 * One parsed request, as a handler gets it: method, target, version, header
 * fields by lower-case name, and the whole body. `path`, `search` and `query`
 * are computed on first use.
 */
export class HttpRequest {
  /** Trailer fields of a chunked body, if it had any. */
  trailers: HttpHeaders | undefined;
  /** The body, whole (empty when the request had none). */
  body: Buffer;
  private pathCache: string | undefined;
  private searchCache: string | undefined;
  private queryCache: URLSearchParams | undefined;

  constructor(
    /** Request method, upper case as sent (`GET`, `POST`, …). */
    readonly method: string,
    /** The request target exactly as sent: `/a/b?x=1`, `*`, or an absolute URI. */
    readonly url: string,
    /** `1.1` or `1.0`. */
    readonly httpVersion: '1.0' | '1.1',
    /** Header fields by lower-case name. */
    readonly headers: HttpHeaders,
    /** False when the connection closes after this request's response. */
    readonly keepAlive: boolean,
    body: Buffer,
  ) {
    this.body = body;
  }

  /** The path without the query: `/a/b` for `/a/b?x=1` (and for `http://host/a/b?x=1`). */
  get path(): string {
    if (this.pathCache === undefined) this.split();
    return this.pathCache!;
  }

  /** The raw query string without `?`, or `''`. */
  get search(): string {
    if (this.searchCache === undefined) this.split();
    return this.searchCache!;
  }

  /** The query string, parsed. */
  get query(): URLSearchParams {
    return (this.queryCache ??= new URLSearchParams(this.search));
  }

  private split(): void {
    let target = this.url;
    if (target.charCodeAt(0) !== 0x2f && target !== '*') {
      // absolute-form: drop `scheme://authority`.
      const scheme = target.indexOf('://');
      const slash = scheme < 0 ? -1 : target.indexOf('/', scheme + 3);
      const query = scheme < 0 ? -1 : target.indexOf('?', scheme + 3);
      const start = slash >= 0 && (query < 0 || slash < query) ? slash : query >= 0 ? query : target.length;
      target = target.slice(start);
      if (target.charCodeAt(0) !== 0x2f) target = '/' + target;
    }
    const q = target.indexOf('?');
    const hash = target.indexOf('#');
    const end = hash >= 0 ? hash : target.length;
    if (q >= 0 && q < end) {
      this.pathCache = target.slice(0, q);
      this.searchCache = target.slice(q + 1, end);
    } else {
      this.pathCache = target.slice(0, end);
      this.searchCache = '';
    }
  }
}
