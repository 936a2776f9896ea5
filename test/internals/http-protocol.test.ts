import { describe, expect, it, vi } from 'vitest';
import { RELEASE } from '../../src/shared/protocol/link.js';
import { HttpFactory } from '../../src/protocols/http/factory.js';
import { DRAIN_IDLE_GRACE, type HttpHandler, type HttpProtocol } from '../../src/protocols/http/protocol.js';
import type { Clock, DelayedCall } from '../../src/shared/protocol/clock.js';
import type { ReactorServices } from '../../src/shared/protocol/services.js';
import { StringTransport } from '../../src/shared/protocol/testing/string-transport.js';

/** A clock that moves only when told (the sweep's timers run on it). */
class FakeClock implements Clock {
  now = 0;
  private calls: Array<{ at: number; fn: () => void; live: boolean }> = [];
  seconds(): number {
    return this.now;
  }
  callLater(seconds: number, fn: () => void): DelayedCall {
    const call = { at: this.now + seconds, fn, live: true };
    this.calls.push(call);
    return {
      getTime: () => call.at,
      cancel: () => void (call.live = false),
      reset: (s: number) => void (call.at = this.now + s),
      active: () => call.live,
    };
  }
  advance(seconds: number): void {
    const end = this.now + seconds;
    for (;;) {
      const next = this.calls.filter((c) => c.live && c.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.now = next.at;
      next.live = false;
      next.fn();
    }
    this.now = end;
    this.calls = this.calls.filter((c) => c.live);
  }
}

function connect(handler: HttpHandler, options: Record<string, unknown> = {}) {
  const clock = new FakeClock();
  const factory = new HttpFactory({ handler, options });
  factory.reactor = { clock, offload: () => Promise.reject(new Error('no pool')) } satisfies ReactorServices;
  const protocol = factory.buildProtocol({ type: 'TCP', host: '127.0.0.1', port: 1 })!;
  const transport = new StringTransport();
  void protocol.makeConnection(transport);
  const send = (raw: string) => void protocol.dataReceived(Buffer.from(raw, 'latin1'));
  const text = () => transport.value().toString('latin1');
  return { clock, factory, protocol: protocol as HttpProtocol, transport, send, text };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
const GET = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;

describe('HttpProtocol', () => {
  it('answers a request with status, Date, keep-alive fields, length and body', () => {
    const c = connect(() => ({ headers: { 'x-a': 'b' }, body: 'hi' }));
    c.send(GET('/'));
    const text = c.text();
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\nx-a: b\r\nContent-Type: text\/plain; charset=utf-8\r\nDate: .+ GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nhi$/);
    expect(c.transport.disconnecting).toBe(false);
    expect(c.transport.noDelay).toBe(true);
  });

  it('answers pipelined requests in request order when handlers finish out of order', async () => {
    const delays: Record<string, number> = { '/1': 30, '/2': 1, '/3': 15 };
    const c = connect((req) => new Promise((resolve) => setTimeout(() => resolve(`body ${req.path}`), delays[req.path])));
    c.send(GET('/1') + GET('/2') + GET('/3'));
    await vi.waitFor(() => expect(statuses(c.text())).toHaveLength(3));
    expect(c.text().match(/body \/\d/g)).toEqual(['body /1', 'body /2', 'body /3']);
  });

  it('closes after a Connection: close response and reads nothing after it', async () => {
    const handler = vi.fn(() => 'ok');
    const c = connect(handler);
    c.send(GET('/1', 'Connection: close\r\n') + GET('/2'));
    expect(handler).toHaveBeenCalledTimes(1);
    expect(c.text()).toContain('Connection: close\r\n');
    expect(c.transport.disconnecting).toBe(true);
  });

  it('closes HTTP/1.0 by default and keeps it with Connection: keep-alive', () => {
    const a = connect(() => 'ok');
    a.send('GET / HTTP/1.0\r\n\r\n');
    expect(a.text()).toContain('Connection: close');
    expect(a.transport.disconnecting).toBe(true);
    const b = connect(() => 'ok');
    b.send('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    expect(b.text()).toContain('Connection: keep-alive');
    expect(b.transport.disconnecting).toBe(false);
  });

  it('sends 100 Continue before the body of an Expect: 100-continue request', () => {
    const c = connect((req) => `got ${req.body.toString()}`);
    c.send('POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n');
    expect(c.text()).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    c.send('abc');
    expect(c.text()).toMatch(/got abc$/);
  });

  it('refuses an oversized Expect: 100-continue request with 413 and no 100', () => {
    const c = connect(() => 'ok', { maxBodySize: 2 });
    c.send('POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n');
    expect(statuses(c.text())).toEqual([413]);
    expect(c.transport.disconnecting).toBe(true);
  });

  it('answers Expect: foo with 417 and keeps the connection', () => {
    const handler = vi.fn(() => 'ok');
    const c = connect(handler);
    c.send('POST / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\nContent-Length: 3\r\n\r\nabc' + GET('/next'));
    expect(statuses(c.text())).toEqual([417, 200]);
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('never hands a refused request to the handler; answers earlier ones first, then closes', () => {
    const handler = vi.fn(() => 'ok');
    const c = connect(handler);
    c.send(GET('/ok') + 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' + GET('/after'));
    expect(handler).toHaveBeenCalledTimes(1);
    expect(statuses(c.text())).toEqual([200, 400]);
    expect(c.text()).toContain('Connection: close');
    expect(c.transport.disconnecting).toBe(true);
  });

  it('answers 500 when the handler throws or rejects, and keeps the connection', async () => {
    const c = connect((req) => {
      if (req.path === '/throw') throw new Error('boom');
      if (req.path === '/reject') return Promise.reject(new Error('boom'));
      return 'fine';
    });
    c.factory.handlerFailed = () => {};
    c.send(GET('/throw') + GET('/reject') + GET('/ok'));
    await vi.waitFor(() => expect(statuses(c.text())).toEqual([500, 500, 200]));
    expect(c.transport.disconnecting).toBe(false);
  });

  it('answers 500 rather than send a header with CR/LF (no response splitting)', () => {
    const c = connect(() => ({ headers: { 'x-evil': 'a\r\nSet-Cookie: x=1' }, body: 'no' }));
    c.factory.handlerFailed = () => {};
    c.send(GET('/'));
    expect(statuses(c.text())).toEqual([500]);
    expect(c.text()).not.toContain('Set-Cookie');
  });

  it('sends HEAD responses without a body', () => {
    const c = connect(() => 'hello');
    c.send('HEAD / HTTP/1.1\r\nHost: a\r\n\r\n' + GET('/'));
    const text = c.text();
    expect(text.match(/Content-Length: 5/g)).toHaveLength(2);
    expect(text.match(/hello/g)).toHaveLength(1);
  });

  it('sends bytes bodies and custom statuses', () => {
    const c = connect(() => ({ status: 201, headers: { 'content-type': 'application/x' }, body: Buffer.from([1, 2, 3]) }));
    c.send(GET('/'));
    const raw = c.transport.value();
    expect(raw.toString('latin1')).toMatch(/^HTTP\/1\.1 201 Created\r\ncontent-type: application\/x\r\n/);
    expect([...raw.subarray(raw.length - 3)]).toEqual([1, 2, 3]);
  });

  it('streams an iterable body with chunked encoding, in order with the next response', async () => {
    async function* parts() {
      yield 'ab';
      await new Promise((r) => setTimeout(r, 5));
      yield Buffer.from('cde');
    }
    const c = connect((req) => (req.path === '/s' ? { body: parts() } : 'next'));
    c.send(GET('/s') + GET('/n'));
    await vi.waitFor(() => expect(statuses(c.text())).toHaveLength(2));
    expect(c.text()).toContain('Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\nHTTP/1.1 200 OK');
    expect(c.text()).toMatch(/next$/);
  });

  it('streams to HTTP/1.0 without chunked framing and closes to end the body', async () => {
    const c = connect(() => ({ body: ['x', 'y'] }));
    c.send('GET / HTTP/1.0\r\n\r\n');
    await vi.waitFor(() => expect(c.transport.disconnecting).toBe(true));
    expect(c.text()).not.toContain('chunked');
    expect(c.text()).toMatch(/\r\n\r\nxy$/);
  });

  it('pauses reading while maxPipelinedRequests responses are pending, and resumes', async () => {
    const pending: Array<() => void> = [];
    const c = connect(() => new Promise((resolve) => pending.push(() => resolve('ok'))), { maxPipelinedRequests: 2 });
    c.send(GET('/1') + GET('/2') + GET('/3') + GET('/4'));
    expect(pending).toHaveLength(2);
    expect(c.transport.producerState).toBe('paused');
    pending.shift()!();
    pending.shift()!();
    await vi.waitFor(() => expect(pending).toHaveLength(2));
    expect(c.transport.producerState).toBe('paused');
    pending.shift()!();
    await vi.waitFor(() => expect(c.transport.producerState).toBe('producing'));
    pending.shift()!();
    await vi.waitFor(() => expect(statuses(c.text())).toHaveLength(4));
  });

  describe('timeouts (reactor clock)', () => {
    it('closes an idle keep-alive connection after keepAliveTimeout, not before', () => {
      const c = connect(() => 'ok');
      c.send(GET('/'));
      c.clock.advance(4.5);
      expect(c.transport.disconnecting).toBe(false);
      c.clock.advance(2);
      expect(c.transport.disconnecting).toBe(true);
      expect(statuses(c.text())).toEqual([200]);
    });

    it('answers 408 and closes when a head is not complete within headersTimeout', () => {
      const c = connect(() => 'ok', { headersTimeout: 10 });
      c.send(GET('/'));
      c.send('GET / HTTP/1.1\r\nHost');
      c.clock.advance(9);
      expect(statuses(c.text())).toEqual([200]);
      c.clock.advance(3);
      expect(statuses(c.text())).toEqual([200, 408]);
      expect(c.transport.disconnecting).toBe(true);
    });

    it('answers 408 when a body is not complete within requestTimeout', () => {
      const c = connect(() => 'ok', { requestTimeout: 20 });
      c.send('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc');
      c.clock.advance(15);
      expect(c.text()).toBe('');
      c.clock.advance(7);
      expect(statuses(c.text())).toEqual([408]);
    });

    it('gives a connection that never sends a request headersTimeout, then 408', () => {
      const c = connect(() => 'ok', { headersTimeout: 30 });
      c.clock.advance(29);
      expect(c.transport.disconnecting).toBe(false);
      c.clock.advance(2);
      expect(statuses(c.text())).toEqual([408]);
    });

    it('does not time out while a handler is still working', async () => {
      let finish!: () => void;
      const c = connect(() => new Promise<string>((resolve) => (finish = () => resolve('late'))));
      c.send(GET('/'));
      c.clock.advance(60);
      expect(c.transport.disconnecting).toBe(false);
      finish();
      await tick();
      expect(statuses(c.text())).toEqual([200]);
    });
  });

  it('answers what a half-closed peer sent, then closes', async () => {
    let finish!: () => void;
    const c = connect((req) => (req.path === '/slow' ? new Promise<string>((resolve) => (finish = () => resolve('slow'))) : 'fast'));
    c.send(GET('/fast') + GET('/slow'));
    c.protocol.readConnectionLost();
    expect(c.transport.disconnecting).toBe(false);
    finish();
    await vi.waitFor(() => expect(c.transport.disconnecting).toBe(true));
    expect(statuses(c.text())).toEqual([200, 200]);
    const idle = connect(() => 'ok');
    idle.protocol.readConnectionLost();
    expect(idle.transport.disconnecting).toBe(true);
  });

  describe('drain', () => {
    it('closes an idle connection after the drain grace, unless a request arrives', () => {
      const c = connect(() => 'ok');
      c.send(GET('/'));
      c.protocol.drain();
      expect(c.transport.disconnecting).toBe(false);
      c.clock.advance(DRAIN_IDLE_GRACE);
      expect(c.transport.disconnecting).toBe(true);
    });

    it('answers a request that arrives during the grace with Connection: close, then closes', () => {
      const c = connect(() => 'ok');
      c.send(GET('/'));
      c.protocol.drain();
      c.send(GET('/second'));
      expect(c.text().split('HTTP/1.1 200').length - 1).toBe(2);
      expect(c.text()).toMatch(/Connection: close\r\n[\s\S]*$/i);
      expect(c.transport.disconnecting).toBe(true);
    });

    it('finishes the response in flight, then waits the grace for the next request', async () => {
      let finish!: () => void;
      const c = connect(() => new Promise<string>((resolve) => (finish = () => resolve('done'))));
      c.send(GET('/'));
      c.protocol.drain();
      expect(c.transport.disconnecting).toBe(false);
      finish();
      await vi.waitFor(() => expect(c.text()).toContain('done'));
      c.clock.advance(DRAIN_IDLE_GRACE);
      expect(c.transport.disconnecting).toBe(true);
    });
  });

  it('forgets queued responses when the connection is lost', async () => {
    let finish!: () => void;
    const c = connect(() => new Promise<string>((resolve) => (finish = () => resolve('late'))));
    c.send(GET('/'));
    c.protocol.connected = false;
    void c.protocol.connectionLost(new Error('gone'));
    c.protocol[RELEASE]();
    finish();
    await tick();
    expect(c.text()).toBe('');
  });
});
