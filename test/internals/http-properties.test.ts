import fc from 'fast-check';
import { RELEASE } from '../../src/shared/protocol/link.js';
import { describe, expect, it } from 'vitest';
import { HttpFactory } from '../../src/protocols/http/factory.js';
import { HTTP_DEFAULTS, resolveHttpLimits } from '../../src/protocols/http/limits.js';
import { HttpRequestParser } from '../../src/protocols/http/parser.js';
import type { HttpRequest } from '../../src/protocols/http/request.js';
import { StringTransport } from '../../src/shared/protocol/testing/string-transport.js';

interface Model {
  method: string;
  url: string;
  headers: Array<[string, string]>;
  body: string;
  framing: 'length' | 'chunked' | 'none';
  chunks: number[];
}

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,11}$/).filter((n) => !['host', 'content-length', 'transfer-encoding', 'connection', 'expect', 'cookie'].includes(n.toLowerCase()));
const value = fc.stringMatching(/^[!-~]([ !-~]{0,20}[!-~])?$/);
const request: fc.Arbitrary<Model> = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
    url: fc.stringMatching(/^\/[A-Za-z0-9._~%/?=&-]{0,30}$/),
    headers: fc.array(fc.tuple(token, value), { maxLength: 5 }),
    body: fc.string({ maxLength: 60 }).map((s) => Buffer.from(s).toString('latin1')),
    framing: fc.constantFrom('length', 'chunked', 'none'),
    chunks: fc.array(fc.integer({ min: 1, max: 20 }), { maxLength: 8 }),
  })
  .map((m) => (m.framing === 'none' ? { ...m, body: '' } : m));

function serialize(m: Model): string {
  let head = `${m.method} ${m.url} HTTP/1.1\r\nHost: h\r\n`;
  for (const [n, v] of m.headers) head += `${n}: ${v}\r\n`;
  if (m.framing === 'length') return `${head}Content-Length: ${m.body.length}\r\n\r\n${m.body}`;
  if (m.framing === 'none') return `${head}\r\n`;
  let out = `${head}Transfer-Encoding: chunked\r\n\r\n`;
  let rest = m.body;
  for (const size of m.chunks) {
    if (rest.length === 0) break;
    const piece = rest.slice(0, size);
    rest = rest.slice(size);
    out += `${piece.length.toString(16)}\r\n${piece}\r\n`;
  }
  if (rest.length > 0) out += `${rest.length.toString(16)};x=y\r\n${rest}\r\n`;
  return `${out}0\r\n\r\n`;
}

function feed(bytes: Buffer, cuts: number[]): { requests: HttpRequest[]; errors: unknown[] } {
  const requests: HttpRequest[] = [];
  const errors: unknown[] = [];
  const parser = new HttpRequestParser(resolveHttpLimits(), {
    headComplete: () => {},
    request: (r) => (requests.push(r), true),
    error: (e) => errors.push(e),
  });
  let at = 0;
  for (const cut of [...cuts.map((c) => c % (bytes.length + 1))].sort((a, b) => a - b)) {
    parser.execute(bytes.subarray(at, cut));
    at = cut;
  }
  parser.execute(bytes.subarray(at));
  return { requests, errors };
}

/**
 * As the socket lends its reads: each piece is copied into one read buffer, and
 * the buffer is overwritten after every call (another connection's read). The
 * handler stops the parser every `stopEvery` requests and the line budget is
 * small, so input is held and resumed; each resume also scribbles the buffer.
 */
function feedLent(bytes: Buffer, cuts: number[], stopEvery: number, linesPerRun: number): { requests: HttpRequest[]; errors: unknown[] } {
  const requests: HttpRequest[] = [];
  const errors: unknown[] = [];
  const parser = new HttpRequestParser(resolveHttpLimits(), {
    headComplete: () => {},
    request: (r) => requests.push(r) % stopEvery !== 0,
    error: (e) => errors.push(e),
  });
  parser.linesPerRun = linesPerRun;
  const read = Buffer.alloc(bytes.length + 1);
  const lend = (piece: Buffer) => {
    piece.copy(read);
    parser.execute(read.subarray(0, piece.length));
    read.fill('X');
    // The owner's later turns: resume until the parser holds nothing more (bounded).
    for (let i = 0; i < 2 * bytes.length + 10 && parser.buffered > 0; i++) {
      parser.resume();
      read.fill('Y');
    }
  };
  let at = 0;
  for (const cut of [...cuts.map((c) => c % (bytes.length + 1))].sort((a, b) => a - b)) {
    lend(bytes.subarray(at, cut));
    at = cut;
  }
  lend(bytes.subarray(at));
  return { requests, errors };
}

function expectedRequests(models: Model[]) {
  return models.map((m) => {
    const headers: Record<string, string> = { host: 'h' };
    for (const [n, v] of m.headers) {
      const k = n.toLowerCase();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    if (m.framing === 'length') headers['content-length'] = String(m.body.length);
    if (m.framing === 'chunked') headers['transfer-encoding'] = 'chunked';
    return { method: m.method, url: m.url, headers, body: m.body };
  });
}

const view = (r: HttpRequest) => ({ method: r.method, url: r.url, headers: { ...r.headers }, body: r.body.toString('latin1') });

describe('http properties (fast-check)', () => {
  it('any split of a valid pipelined stream yields the same requests as the model', () => {
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 20 }), (models, cuts) => {
        const bytes = Buffer.from(models.map(serialize).join(''), 'latin1');
        const { requests, errors } = feed(bytes, cuts);
        expect(errors).toEqual([]);
        expect(requests.map(view)).toEqual(expectedRequests(models));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps nothing of a lent chunk: overwriting each read after the call, with stops and resumes, changes no request', () => {
    fc.assert(
      fc.property(
        fc.array(request, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        (models, cuts, stopEvery, linesPerRun) => {
          const bytes = Buffer.from(models.map(serialize).join(''), 'latin1');
          const { requests, errors } = feedLent(bytes, cuts, stopEvery, linesPerRun);
          expect(errors).toEqual([]);
          expect(requests.map(view)).toEqual(expectedRequests(models));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random bytes never throw, end in at most one error, and stay within the buffer bounds', () => {
    const bound = 2 * HTTP_DEFAULTS.maxHeaderSize + HTTP_DEFAULTS.maxRequestLineSize;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(), { maxLength: 10 }), (raw, cuts) => {
        const bytes = Buffer.from(raw);
        let errors = 0;
        const parser = new HttpRequestParser(resolveHttpLimits(), { headComplete: () => {}, request: () => true, error: () => void errors++ });
        let at = 0;
        for (const cut of [...cuts.map((c) => c % (bytes.length + 1))].sort((a, b) => a - b)) {
          parser.execute(bytes.subarray(at, cut));
          at = cut;
          expect(parser.buffered).toBeLessThanOrEqual(bound);
        }
        parser.execute(bytes.subarray(at));
        expect(errors).toBeLessThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });

  it('random bytes after a valid prefix never make the protocol throw', () => {
    const prefix = fc.constantFrom('', 'GET / HTTP/1.1\r\nHost: a\r\n', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    fc.assert(
      fc.property(prefix, fc.uint8Array({ maxLength: 500 }), fc.array(fc.nat(), { maxLength: 5 }), (start, raw, cuts) => {
        const factory = new HttpFactory({ handler: () => 'ok' });
        const protocol = factory.buildProtocol({ type: 'TCP', host: '127.0.0.1', port: 1 })!;
        const transport = new StringTransport();
        void protocol.makeConnection(transport);
        const bytes = Buffer.concat([Buffer.from(start, 'latin1'), Buffer.from(raw)]);
        let at = 0;
        for (const cut of [...cuts.map((c) => c % (bytes.length + 1))].sort((a, b) => a - b)) {
          expect(() => protocol.dataReceived(bytes.subarray(at, cut))).not.toThrow();
          at = cut;
        }
        expect(() => protocol.dataReceived(bytes.subarray(at))).not.toThrow();
        void protocol.connectionLost(new Error('done'));
        protocol[RELEASE]();
      }),
      { numRuns: 300 },
    );
  });
});
