import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { resolveHttpLimits, type HttpLimits } from '../../src/protocols/http/limits.js';
import { BODY_BLOCK } from '../../src/protocols/http/body.js';
import { HttpRequestParser, ParserPhase } from '../../src/protocols/http/parser.js';
import type { HttpRequest } from '../../src/protocols/http/request.js';
import { statusOf } from '../../src/protocols/http/errors.js';
import { InvalidOptionError, type SkeinError } from '../../src/shared/protocol/errors.js';

interface Parsed {
  requests: HttpRequest[];
  errors: SkeinError[];
  parser: HttpRequestParser;
}

/** Feeds `raw` in pieces of `size` bytes (the whole at once when omitted). */
function parse(raw: string | Buffer, size = Infinity, limits: Partial<HttpLimits> = {}): Parsed {
  const out: Parsed = { requests: [], errors: [], parser: undefined as never };
  out.parser = new HttpRequestParser(resolveHttpLimits(limits), {
    headComplete: () => {},
    request: (r) => (out.requests.push(r), true),
    error: (e) => out.errors.push(e),
  });
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw;
  for (let i = 0; i < bytes.length; i += size) out.parser.execute(bytes.subarray(i, Math.min(bytes.length, i + size)));
  return out;
}

function summary(r: HttpRequest) {
  return { method: r.method, url: r.url, version: r.httpVersion, headers: { ...r.headers }, body: r.body.toString('latin1'), keepAlive: r.keepAlive, trailers: r.trailers && { ...r.trailers } };
}

const STREAM =
  'GET /a?x=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\n\r\n' +
  'POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello' +
  'PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n' +
  'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' +
  'DELETE /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n';

describe('HttpRequestParser', () => {
  it('parses a request: method, target, path, query, lower-case headers, body, keep-alive', () => {
    const { requests, errors } = parse('GET /a/b?x=1&y=two HTTP/1.1\r\nHost: example\r\nX-Thing:  v  \r\nCookie: a\r\nCookie: b\r\n\r\n');
    expect(errors).toEqual([]);
    const [r] = requests;
    expect(r!.method).toBe('GET');
    expect(r!.url).toBe('/a/b?x=1&y=two');
    expect(r!.path).toBe('/a/b');
    expect(r!.search).toBe('x=1&y=two');
    expect(r!.query.get('y')).toBe('two');
    expect(r!.headers).toEqual({ host: 'example', 'x-thing': 'v', cookie: 'a; b' });
    expect(r!.body.length).toBe(0);
    expect(r!.keepAlive).toBe(true);
  });

  it('gives the path of an absolute-form target', () => {
    const { requests } = parse('GET http://example.com:8080/p/q?z=1 HTTP/1.1\r\nHost: a\r\n\r\nGET http://example.com HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(requests.map((r) => [r.path, r.search])).toEqual([['/p/q', 'z=1'], ['/', '']]);
  });

  it('keeps header names like __proto__ as plain fields', () => {
    const { requests } = parse('GET / HTTP/1.1\r\nHost: a\r\n__proto__: x\r\n\r\n');
    expect(Object.getPrototypeOf(requests[0]!.headers)).toBe(null);
    expect(requests[0]!.headers.__proto__).toBe('x');
  });

  it('yields the same requests however the stream is split (1, 2, 3 … byte chunks)', () => {
    const whole = parse(STREAM).requests.map(summary);
    expect(whole).toHaveLength(5);
    expect(whole[2]).toMatchObject({ method: 'PUT', body: 'abcde', trailers: { 'x-t': '1' } });
    expect(whole[3]).toMatchObject({ version: '1.0', keepAlive: true });
    expect(whole[4]).toMatchObject({ keepAlive: false });
    for (let size = 1; size <= 40; size++) {
      const { requests, errors } = parse(STREAM, size);
      expect(errors).toEqual([]);
      expect(requests.map(summary)).toEqual(whole);
    }
  });

  it('hands over a body that arrived in one chunk as a view of it', () => {
    const chunk = Buffer.from('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc');
    const { requests } = parse(chunk);
    expect(requests[0]!.body.buffer).toBe(chunk.buffer);
  });

  it.each([
    ['GET / HTTP/1.1\r\n\r\n', 400],
    ['GET / HTTP/1.2\r\nHost: a\r\n\r\n', 505],
    ['GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
    ['FOO / HTTP/1.1\r\nHost: a\r\n\r\n', 501],
    ['CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\n', 501],
    ['GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n', 400],
    ['GET / HTTP/1.1\nHost: a\n\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', 400],
    ['POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 411],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n', 413],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFF\r\n', 413],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n', 400],
  ])('refuses %j with %i, whatever the split', (raw, status) => {
    for (const size of [Infinity, 1, 7]) {
      const { requests, errors } = parse(raw, size);
      expect(requests).toEqual([]);
      expect(errors.map(statusOf)).toEqual([status]);
    }
  });

  it('refuses garbage at its first bytes, without waiting for a line end', () => {
    const { errors } = parse('\x16\x03\x01\x00');
    expect(errors.map(statusOf)).toEqual([400]);
  });

  it('ignores input after an error, and never reports twice', () => {
    const p = parse('BAD\x01 / HTTP/1.1\r\n\r\n');
    p.parser.execute(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'));
    expect(p.errors).toHaveLength(1);
    expect(p.requests).toEqual([]);
    expect(p.parser.phase).toBe(ParserPhase.Done);
  });

  describe('limits', () => {
    it('maxHeaderSize counts target + names + values, as node:http does (431)', () => {
      const fits = `GET / HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(16384 - 1 - 4 - 1 - 1 - 1)}\r\n\r\n`;
      expect(parse(fits).errors).toEqual([]);
      const over = `GET / HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(16384 - 1 - 4 - 1 - 1)}\r\n\r\n`;
      expect(parse(over).errors.map(statusOf)).toEqual([431]);
      expect(parse('GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789\r\n\r\n', Infinity, { maxHeaderSize: 16 }).errors.map(statusOf)).toEqual([431]);
    });

    it('maxHeadersCount (431)', () => {
      const raw = `GET / HTTP/1.1\r\nHost: a\r\n${'a: b\r\n'.repeat(3)}\r\n`;
      expect(parse(raw, Infinity, { maxHeadersCount: 4 }).errors).toEqual([]);
      expect(parse(raw, Infinity, { maxHeadersCount: 3 }).errors.map(statusOf)).toEqual([431]);
    });

    it('maxRequestLineSize (414), and a line that never ends is refused once it passes the limit', () => {
      expect(parse(`GET /${'a'.repeat(100)} HTTP/1.1\r\n`, Infinity, { maxRequestLineSize: 64 }).errors.map(statusOf)).toEqual([414]);
      const p = parse(`GET /${'a'.repeat(100)}`, 1, { maxRequestLineSize: 64 });
      expect(p.errors.map(statusOf)).toEqual([414]);
      expect(p.parser.buffered).toBe(0);
    });

    it('never holds more than twice maxHeaderSize of a head, even of whitespace', () => {
      const p = parse(`GET / HTTP/1.1\r\nHost: a\r\nX:${' '.repeat(40000)}`, 1000);
      expect(p.errors.map(statusOf)).toEqual([431]);
      expect(p.parser.buffered).toBe(0);
    });

    it('maxBodySize applies to Content-Length and to the sum of chunks (413)', () => {
      expect(parse('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n', Infinity, { maxBodySize: 10 }).errors.map(statusOf)).toEqual([413]);
      expect(parse('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789', Infinity, { maxBodySize: 10 }).errors).toEqual([]);
      const chunks = 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n01234\r\n0\r\n\r\n';
      expect(parse(chunks, Infinity, { maxBodySize: 10 }).errors.map(statusOf)).toEqual([413]);
      expect(parse(chunks, Infinity, { maxBodySize: 11 }).errors).toEqual([]);
    });

    it('maxChunkExtensionSize (413)', () => {
      const raw = `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;${'e'.repeat(40)}\r\nx\r\n0\r\n\r\n`;
      expect(parse(raw, Infinity, { maxChunkExtensionSize: 41 }).errors).toEqual([]);
      expect(parse(raw, Infinity, { maxChunkExtensionSize: 40 }).errors.map(statusOf)).toEqual([413]);
    });

    it('requireHostHeader: false accepts HTTP/1.1 without Host', () => {
      expect(parse('GET / HTTP/1.1\r\n\r\n', Infinity, { requireHostHeader: false }).requests).toHaveLength(1);
    });

    it('rejects bad limit options naming them', () => {
      expect(() => resolveHttpLimits({ maxBodySize: -1 })).toThrow(InvalidOptionError);
      expect(() => resolveHttpLimits({ maxBodySize: -1 })).toThrow(/options\.maxBodySize must be a positive integer/);
      expect(() => resolveHttpLimits({ keepAliveTimeout: 'soon' })).toThrow(/options\.keepAliveTimeout/);
      expect(() => resolveHttpLimits({ requireHostHeader: 'yes' })).toThrow(/options\.requireHostHeader/);
      expect(Object.isFrozen(resolveHttpLimits({}))).toBe(true);
    });
  });

  it('stops when request() returns false, and resumes with the held input', () => {
    const seen: string[] = [];
    let allow = false;
    const parser = new HttpRequestParser(resolveHttpLimits(), {
      headComplete: () => {},
      request: (r) => (seen.push(r.url), allow),
      error: (e) => {
        throw e;
      },
    });
    parser.execute(Buffer.from('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n'));
    expect(seen).toEqual(['/1']);
    parser.execute(Buffer.from('GET /4 HTTP/1.1\r\nHost: a\r\n\r\n'));
    expect(seen).toEqual(['/1']);
    allow = true;
    parser.resume();
    expect(seen).toEqual(['/1', '/2', '/3', '/4']);
  });

  it('stops after linesPerRun lines with input left (yielded), and resume goes on where it stopped', () => {
    const seen: string[] = [];
    const parser = new HttpRequestParser(resolveHttpLimits(), {
      headComplete: () => {},
      request: (r) => (seen.push(r.url), true),
      error: (e) => {
        throw e;
      },
    });
    parser.linesPerRun = 10;
    const n = 50;
    parser.execute(Buffer.from(Array.from({ length: n }, (_, i) => `GET /${i} HTTP/1.1\r\nHost: a\r\n\r\n`).join('')));
    // 3 lines a request: 10 lines are 3 requests and the next request line.
    expect(seen).toHaveLength(3);
    expect(parser.yielded).toBe(true);
    let runs = 1;
    while (parser.yielded) {
      parser.resume();
      runs++;
    }
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => `/${i}`));
    expect(runs).toBe(Math.ceil((3 * n) / 10));
    // A chunked body of 1-byte chunks (2 lines a chunk) is sliced too, and comes whole.
    const body = 'POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n' + '1\r\nA\r\n'.repeat(100) + '0\r\n\r\n';
    const chunked = parse('', Infinity);
    chunked.parser.linesPerRun = 10;
    chunked.parser.execute(Buffer.from(body));
    let slices = 1;
    while (chunked.parser.yielded) {
      chunked.parser.resume();
      slices++;
    }
    expect(slices).toBeGreaterThanOrEqual(20);
    expect(chunked.requests.map((r) => r.body.toString())).toEqual(['A'.repeat(100)]);
  });

  it('counts requests as they begin, for timeouts', () => {
    const p = parse('GET / HTTP/1.1\r\nHost: a\r\n\r\nGE');
    expect(p.parser.requestsStarted).toBe(2);
    expect(p.parser.phase).toBe(ParserPhase.Head);
    p.parser.execute(Buffer.from('T / HTTP/1.1\r\nHost: a\r\n\r\n'));
    expect(p.parser.requestsStarted).toBe(2);
    expect(p.parser.phase).toBe(ParserPhase.Idle);
  });
});

describe('HttpRequestParser memory (issue 15, case 3)', () => {
  /** A full collection, without --expose-gc on the runner. */
  function collect(): void {
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
  }

  /**
   * Bytes of ArrayBuffers alive, once collections have settled: V8 frees
   * backing stores on a background sweeper, so one reading right after a
   * collection may still count buffers already unreachable.
   */
  async function liveArrayBuffers(): Promise<number> {
    let least = Infinity;
    for (let i = 0; i < 5; i++) {
      collect();
      await new Promise((resolve) => setTimeout(resolve, 20));
      least = Math.min(least, process.memoryUsage().arrayBuffers);
    }
    return least;
  }

  it('holds a chunked body of 1-byte chunks as its bytes, not as one object per chunk', async () => {
    const head = Buffer.from('POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunks = 150_000; // 900 KB on the wire, 150 KB decoded, below the 1 MiB body limit
    const wire = Buffer.from('1\r\nA\r\n'.repeat(chunks));
    const out = { errors: [] as SkeinError[], requests: 0 };
    const parser = new HttpRequestParser(resolveHttpLimits({}), {
      headComplete: () => {},
      request: () => (out.requests++, true),
      error: (e) => out.errors.push(e),
    });
    const buffersBefore = await liveArrayBuffers();
    collect();
    const before = process.memoryUsage();
    parser.execute(head);
    // 64 KiB reads, each its own buffer, as a socket delivers them.
    for (let i = 0; i < wire.length; i += 65536) parser.execute(Buffer.from(wire.subarray(i, i + 65536)));
    collect();
    const after = process.memoryUsage();
    expect(out.errors).toEqual([]);
    expect(out.requests).toBe(0); // never finished
    const held = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
    // The decoded bytes (150 KB) and a little heap: not ~100 bytes per chunk.
    expect(held).toBeLessThan(1024 * 1024);
    // As bytes: the body's blocks (at most one block beyond its bytes; doubling growth held 256 KiB), not the reads they came in.
    expect((await liveArrayBuffers()) - buffersBefore).toBeLessThan(chunks + BODY_BLOCK + 64 * 1024);
    expect(parser.buffered).toBeLessThanOrEqual(chunks + BODY_BLOCK);
    parser.finish();
  });

  it('holds a Content-Length body as its bytes arrive, not as announced', async () => {
    const parsers: Parsed[] = [];
    const before = await liveArrayBuffers();
    for (let i = 0; i < 50; i++) parsers.push(parse('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\nabc'));
    // At most a block each for 3 bytes received (a buffer of the announced length each would be 48 MiB).
    expect((await liveArrayBuffers()) - before).toBeLessThan(50 * BODY_BLOCK + 256 * 1024);
    for (const p of parsers) {
      expect(p.errors).toEqual([]);
      expect(p.parser.buffered).toBeLessThanOrEqual(BODY_BLOCK);
    }
    // The body comes whole however it was cut.
    const body = Buffer.alloc(100_000, 'b');
    const q = parse(Buffer.concat([Buffer.from('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n'), body]), 7001);
    expect(q.requests).toHaveLength(1);
    expect(q.requests[0]!.body.equals(body)).toBe(true);
    expect(q.parser.buffered).toBe(0);
  });

  it('keeps the bytes of a line cut by the end of a read, not the read', async () => {
    const parsers: HttpRequestParser[] = [];
    const before = await liveArrayBuffers();
    for (let i = 0; i < 100; i++) {
      const parser = new HttpRequestParser(resolveHttpLimits(), { headComplete: () => {}, request: () => true, error: (e) => { throw e; } });
      // A 64 KiB read, as a socket delivers it: empty lines, then the start of a request line.
      const read = Buffer.allocUnsafeSlow(64 * 1024).fill('\r\n');
      read.write('GET /x', read.length - 6, 'latin1');
      parser.execute(read);
      expect(parser.buffered).toBe(6);
      parsers.push(parser);
    }
    // 100 reads kept alive would be 6.25 MiB.
    expect((await liveArrayBuffers()) - before).toBeLessThan(1024 * 1024);
    for (const parser of parsers) parser.execute(Buffer.from(' HTTP/1.1\r\nHost: a\r\n\r\n'));
  });

  it('lets go of the buffer it held input in across stops when trimmed (the protocol trims on each timeout sweep): a connection that flooded once keeps no 64 KiB', async () => {
    const parsers: HttpRequestParser[] = [];
    const before = await liveArrayBuffers();
    const flood = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'.repeat(2400)); // about 64 KiB, 7,200 lines
    let requests = 0;
    for (let i = 0; i < 100; i++) {
      const parser = new HttpRequestParser(resolveHttpLimits(), { headComplete: () => {}, request: () => (requests++, true), error: (e) => { throw e; } });
      parser.linesPerRun = 1024;
      parser.execute(flood);
      expect(parser.yielded).toBe(true);
      // The owner's later turns.
      while (parser.yielded) parser.resume();
      expect(parser.buffered).toBe(0);
      parser.trim();
      parsers.push(parser);
    }
    expect(requests).toBe(100 * 2400);
    // A stash kept by each would be 6.25 MiB.
    expect((await liveArrayBuffers()) - before).toBeLessThan(1024 * 1024);
  });

  it('enforces maxBodySize on the decoded size, whatever the chunk overhead', () => {
    const body = (n: number) => `POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${'1\r\nA\r\n'.repeat(n)}0\r\n\r\n`;
    const ok = parse(body(1000), 7, { maxBodySize: 1000 });
    expect(ok.errors).toEqual([]);
    expect(ok.requests[0]!.body.toString()).toBe('A'.repeat(1000));
    const over = parse(body(1001), 7, { maxBodySize: 1000 });
    expect(over.errors.map((e) => statusOf(e))).toEqual([413]);
  });
});
