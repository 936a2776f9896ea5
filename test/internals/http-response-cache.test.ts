import { afterEach, describe, expect, it, vi } from 'vitest';
import { serializeResponse, type HttpResponse, type ResponseContext } from '../../src/protocols/http/response.js';

const FIELDS = 'Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n';
const ctx = (over: Partial<ResponseContext> = {}): ResponseContext => ({ head: false, keepAlive: true, http10: false, keepAliveFields: FIELDS, ...over });
const text = (out: string | Buffer) => (typeof out === 'string' ? out : out.toString('latin1'));

describe('serializeResponse on a response object returned again and again', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('gives the same bytes within a second, and a new Date header the next second', () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 10, 28, 12, 0, 0, 100) });
    const hello: HttpResponse = { body: 'Hello\n' };
    const first = serializeResponse(hello, ctx());
    expect(serializeResponse(hello, ctx())).toBe(first);
    expect(text(first)).toContain('Date: Sat, 28 Nov 2026 12:00:00 GMT\r\n');
    vi.setSystemTime(Date.UTC(2026, 10, 28, 12, 0, 1, 0));
    const next = text(serializeResponse(hello, ctx()));
    expect(next).toContain('Date: Sat, 28 Nov 2026 12:00:01 GMT\r\n');
    expect(next.endsWith('\r\n\r\nHello\n')).toBe(true);
  });

  it('keeps the variants apart: keep-alive, close and HEAD', () => {
    const hello: HttpResponse = { body: 'Hello\n' };
    expect(text(serializeResponse(hello, ctx()))).toMatch(/Connection: keep-alive\r\n.*Hello\n$/s);
    expect(text(serializeResponse(hello, ctx({ keepAlive: false })))).toMatch(/Connection: close\r\n.*Hello\n$/s);
    expect(text(serializeResponse(hello, ctx({ head: true })))).toMatch(/Content-Length: 6\r\n\r\n$/);
    expect(text(serializeResponse(hello, ctx()))).toMatch(/Connection: keep-alive\r\n.*Hello\n$/s);
  });

  it('sees a changed body or status, and a frozen connection: close on every use', () => {
    const response: HttpResponse = { body: 'a' };
    expect(text(serializeResponse(response, ctx()))).toMatch(/\r\n\r\na$/);
    response.body = 'bb';
    expect(text(serializeResponse(response, ctx()))).toMatch(/Content-Length: 2\r\n\r\nbb$/);
    response.status = 201;
    expect(text(serializeResponse(response, ctx()))).toMatch(/^HTTP\/1\.1 201 Created/);
    const closing: HttpResponse = { headers: Object.freeze({ connection: 'close' }), body: 'x' };
    for (let i = 0; i < 2; i++) {
      const c = ctx();
      expect(text(serializeResponse(closing, c))).toContain('Connection: close\r\n');
      expect(c.keepAlive).toBe(false);
    }
  });

  it('does not cache a response whose headers object can change unseen', () => {
    const headers: Record<string, string> = { 'x-n': '1' };
    const response: HttpResponse = { headers, body: 'x' };
    expect(text(serializeResponse(response, ctx()))).toContain('x-n: 1\r\n');
    headers['x-n'] = '2';
    expect(text(serializeResponse(response, ctx()))).toContain('x-n: 2\r\n');
  });
});
