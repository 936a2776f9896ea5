import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HttpRequest } from '../../src/protocols/http/request.js';
import { WebSocketFactory } from '../../src/protocols/websocket/factory.js';
import { WebSocketProtocol } from '../../src/protocols/websocket/protocol.js';
import { InvalidStateError, WebSocketClosed, WebSocketCloseTimeoutError, WebSocketInvalidCloseError, WebSocketPingTimeoutError } from '../../src/shared/protocol/errors.js';
import { connectProtocol } from '../../src/testing.js';
import { ACCEPT, clientClose, clientFrame, closeCodeOf, decodeServer, upgradeRequest } from '../helpers/websocket.js';

/** Echoes every message and records what happened. */
class Recorder extends WebSocketProtocol {
  events: string[] = [];
  lost: WebSocketClosed | undefined;

  override connectionMade(): void {
    this.events.push(`open ${this.request.path} ${this.subprotocol}`);
  }

  override messageReceived(data: Buffer, isBinary: boolean): void {
    this.events.push(`${isBinary ? 'binary' : 'text'}:${isBinary ? data.toString('hex') : data.toString()}`);
    this.sendMessage(data, { binary: isBinary });
  }

  override pongReceived(data: Buffer): void {
    this.events.push(`pong:${data.toString()}`);
  }

  override connectionLost(reason: WebSocketClosed): void {
    this.lost = reason;
  }
}

/** A factory that remembers the last protocol it built. */
class RecordingFactory extends WebSocketFactory<Recorder> {
  built: Recorder | undefined;
  override buildWebSocket(request: HttpRequest): Recorder | null {
    return (this.built = super.buildWebSocket(request)!);
  }
}

function connect(options: Record<string, unknown> = {}, init: ConstructorParameters<typeof WebSocketFactory<Recorder>>[0] = {}) {
  const factory = new RecordingFactory({ protocol: Recorder, options, ...init });
  factory.startFactory();
  const h = connectProtocol(factory.buildProtocol(), { factory });
  const ws = () => factory.built!;
  return { h, factory, ws };
}

/** Sends the upgrade then `frames`, as one chunk and in chunks of 1, 2, 3… bytes; returns each run's result. */
function replay(frames: Buffer[], check: (run: ReturnType<typeof connect>, chunkSize: number) => void, options: Record<string, unknown> = {}): void {
  const total = Buffer.concat([Buffer.from(upgradeRequest()), ...frames]);
  const sizes = [total.length, ...Array.from({ length: Math.min(total.length, 48) }, (_, i) => i + 1)];
  for (const chunkSize of sizes) {
    const run = connect(options);
    // Unmasking is done in place: every run gets its own copy of the bytes.
    run.h.receive(Buffer.from(total), { chunkSize });
    check(run, chunkSize);
  }
}

describe('WebSocket opening handshake (plain endpoint)', () => {
  it('answers 101 with the accept key of RFC 6455 §1.3 and opens the WebSocket', () => {
    const { h, ws } = connect();
    h.receive(upgradeRequest());
    const { head } = decodeServer(h.transport.value());
    expect(head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(head).toContain(`Sec-WebSocket-Accept: ${ACCEPT}\r\n`);
    expect(head).toContain('Upgrade: websocket\r\n');
    expect(ws().events).toEqual(['open /chat ']);
  });

  it.each([
    ['a bad Sec-WebSocket-Key', { 'Sec-WebSocket-Key': 'short' }, 400],
    ['no Sec-WebSocket-Key', { 'Sec-WebSocket-Key': undefined }, 400],
    ['version 8', { 'Sec-WebSocket-Version': '8' }, 400],
    ['no version', { 'Sec-WebSocket-Version': undefined }, 400],
    ['no Connection: Upgrade', { Connection: 'keep-alive' }, 400],
    ['no Upgrade at all', { Upgrade: undefined, Connection: undefined }, 426],
  ])('refuses %s with %d and Sec-WebSocket-Version: 13, then closes', (_name, headers, status) => {
    const { h } = connect();
    h.receive(upgradeRequest(headers));
    const text = h.written();
    expect(text).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(text).toContain('Sec-WebSocket-Version: 13\r\n');
    expect(h.transport.disconnecting).toBe(true);
  });

  it('refuses a POST upgrade with 400, and malformed HTTP with the HTTP status', () => {
    const post = connect();
    post.h.receive(upgradeRequest({}, '/chat', 'POST'));
    expect(post.h.written()).toMatch(/^HTTP\/1\.1 400 /);
    const garbage = connect();
    garbage.h.receive('\x00\x01\x02 nonsense\r\n\r\n');
    expect(garbage.h.written()).toMatch(/^HTTP\/1\.1 400 /);
    expect(garbage.h.transport.disconnecting).toBe(true);
  });

  it('answers 408 when the upgrade request does not arrive within handshakeTimeout', () => {
    const { h } = connect({ handshakeTimeout: 2 });
    h.receive('GET / HTTP/1.1\r\n');
    h.advance(2.1);
    expect(h.written()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('lets the factory refuse by path or Origin, and pick a subprotocol with extra headers', () => {
    const accept = (req: { path: string; headers: Record<string, string> }) =>
      req.path !== '/chat' ? { status: 404, message: 'no such endpoint' } : req.headers.origin === 'https://evil.test' ? false : { headers: { 'X-Served-By': 'skein' } };
    const notFound = connect({}, { accept });
    notFound.h.receive(upgradeRequest({}, '/other'));
    expect(notFound.h.written()).toMatch(/^HTTP\/1\.1 404 Not Found\r\n[\s\S]*no such endpoint/);
    const evil = connect({}, { accept });
    evil.h.receive(upgradeRequest({ Origin: 'https://evil.test' }));
    expect(evil.h.written()).toMatch(/^HTTP\/1\.1 403 /);
    const ok = connect({ subprotocols: ['v2.chat', 'v1.chat'] }, { accept });
    ok.h.receive(upgradeRequest({ 'Sec-WebSocket-Protocol': 'v1.chat, v2.chat' }));
    const head = decodeServer(ok.h.transport.value()).head;
    expect(head).toContain('Sec-WebSocket-Protocol: v2.chat\r\n');
    expect(head).toContain('X-Served-By: skein\r\n');
    expect(ok.ws().subprotocol).toBe('v2.chat');
  });

  it('parses frames that arrived in the same chunk as the request', () => {
    const { h, ws } = connect();
    h.receive(Buffer.concat([Buffer.from(upgradeRequest()), clientFrame(1, 'early')]));
    expect(ws().events).toEqual(['open /chat ', 'text:early']);
  });
});

describe('WebSocket frames, in every chunking', () => {
  it('echoes text and binary messages, and reassembles fragments with a ping between them', () => {
    const frames = [
      clientFrame(1, 'hello'),
      clientFrame(2, Buffer.from([0, 1, 2, 255])),
      clientFrame(1, 'frag', { fin: false }),
      clientFrame(9, 'are you there'),
      clientFrame(0, 'men', { fin: false }),
      clientFrame(0, 'ted'),
      clientFrame(1, 'x'.repeat(300)),
      clientFrame(2, Buffer.alloc(70000, 1)),
    ];
    replay(frames, ({ h, ws }, chunkSize) => {
      const r = ws();
      expect(r.events.slice(0, 4), `chunkSize ${chunkSize}`).toEqual(['open /chat ', 'text:hello', 'binary:000102ff', 'text:fragmented']);
      expect(r.events[4]).toBe(`text:${'x'.repeat(300)}`);
      const { frames: out } = decodeServer(h.transport.value());
      expect(out.map((f) => f.opcode)).toEqual([1, 2, 0xa, 1, 1, 2]);
      expect(out[2]!.payload.toString()).toBe('are you there');
      expect(out[3]!.payload.toString()).toBe('fragmented');
      expect(out[5]!.payload.length).toBe(70000);
      expect(h.transport.disconnecting).toBe(false);
    });
  }, 60_000);

  it('completes the closing handshake the client starts: echoes its code, closes, reports it clean', () => {
    replay([clientFrame(1, 'last'), clientClose(1000, 'bye')], ({ h, ws }) => {
      const { frames } = decodeServer(h.transport.value());
      expect(frames.map((f) => f.opcode)).toEqual([1, 8]);
      expect(closeCodeOf(frames[1])).toBe(1000);
      expect(h.transport.disconnecting).toBe(true);
      h.connectionLost();
      expect(ws().lost).toBeInstanceOf(WebSocketClosed);
      expect(ws().lost).toMatchObject({ closeCode: 1000, closeReason: 'bye', wasClean: true });
    });
  });
});

describe('strict RFC 6455: each broken rule closes with its code', () => {
  const cases: Array<[string, Buffer[], number]> = [
    ['an unmasked client frame', [clientFrame(1, 'hi', { mask: false })], 1002],
    ['RSV2 set', [clientFrame(1, 'hi', { rsv: 0x20 })], 1002],
    ['RSV3 set', [clientFrame(1, 'hi', { rsv: 0x10 })], 1002],
    ['RSV1 without permessage-deflate', [clientFrame(1, 'hi', { rsv1: true })], 1002],
    ['opcode 3 (reserved data)', [clientFrame(3, 'hi')], 1002],
    ['opcode 0xB (reserved control)', [clientFrame(0xb, 'hi')], 1002],
    ['a fragmented ping', [clientFrame(9, 'hi', { fin: false })], 1002],
    ['a ping of 126 bytes', [clientFrame(9, Buffer.alloc(126))], 1002],
    ['a continuation without a message', [clientFrame(0, 'hi')], 1002],
    ['a new message inside a fragmented one', [clientFrame(1, 'a', { fin: false }), clientFrame(1, 'b')], 1002],
    ['a close frame of 1 byte', [clientFrame(8, Buffer.from([3]))], 1002],
    ['close code 1005 on the wire', [clientClose(1005)], 1002],
    ['close code 999', [clientClose(999)], 1002],
    ['invalid UTF-8 text', [clientFrame(1, Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xed, 0xa0, 0x80]))], 1007],
    ['a close reason that is not UTF-8', [clientFrame(8, Buffer.from([0x03, 0xe8, 0xff]))], 1007],
    ['text cut inside a code point', [clientFrame(1, Buffer.from([0x68, 0xe2, 0x82]))], 1007],
  ];
  it.each(cases)('%s → %d', (_name, frames, code) => {
    replay(frames, ({ h, ws }, chunkSize) => {
      const { frames: out } = decodeServer(h.transport.value());
      expect(closeCodeOf(out[out.length - 1]), `chunkSize ${chunkSize}`).toBe(code);
      expect(h.transport.disconnecting).toBe(true);
      h.connectionLost();
      expect(ws().lost?.closeCode).toBe(code);
      expect(ws().lost?.wasClean).toBe(false);
    });
  });

  it('fails invalid UTF-8 at the fragment where it becomes invalid, before the message ends (1007)', () => {
    const { h, ws } = connect();
    h.receive(upgradeRequest());
    h.receive(Buffer.concat([clientFrame(1, Buffer.from('κόσ'), { fin: false }), clientFrame(0, Buffer.from([0xce]), { fin: false })]));
    expect(h.transport.disconnecting).toBe(false);
    h.receive(clientFrame(0, Buffer.from([0x41]), { fin: false }));
    expect(closeCodeOf(decodeServer(h.transport.value()).frames.at(-1))).toBe(1007);
    expect(ws().events).toEqual(['open /chat ']);
  });

  it('accepts valid UTF-8 split inside a code point across fragments', () => {
    const bytes = Buffer.from('a€𝄞b');
    const { h, ws } = connect();
    h.receive(upgradeRequest());
    h.receive(Buffer.concat([clientFrame(1, bytes.subarray(0, 2), { fin: false }), clientFrame(0, bytes.subarray(2, 6), { fin: false }), clientFrame(0, bytes.subarray(6))]));
    expect(ws().events).toEqual(['open /chat ', 'text:a€𝄞b']);
  });

  it('closes with 1009 from the header of a frame over maxMessageBytes, and of fragments that sum over it', () => {
    const big = connect({ maxMessageBytes: 1000 });
    big.h.receive(upgradeRequest());
    // Only the header: the payload never needs to arrive.
    big.h.receive(clientFrame(2, Buffer.alloc(1001)).subarray(0, 8));
    expect(closeCodeOf(decodeServer(big.h.transport.value()).frames.at(-1))).toBe(1009);
    replay(
      [clientFrame(2, Buffer.alloc(600), { fin: false }), clientFrame(0, Buffer.alloc(600))],
      ({ h }) => expect(closeCodeOf(decodeServer(h.transport.value()).frames.at(-1))).toBe(1009),
      { maxMessageBytes: 1000 },
    );
  });

  it('closes with 1002 a 64-bit length with its top bit set', () => {
    const { h } = connect();
    h.receive(upgradeRequest());
    h.receive(Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]));
    expect(closeCodeOf(decodeServer(h.transport.value()).frames.at(-1))).toBe(1002);
  });
});

describe('closing, pings and drain', () => {
  it('close(): sends Close, stops sending, and reports the peer’s answer as clean', () => {
    const { h, ws } = connect();
    h.receive(upgradeRequest());
    ws().close(4001, 'done');
    expect(ws().sendMessage('late')).toBe(false);
    let { frames } = decodeServer(h.transport.value());
    expect(frames.map((f) => f.opcode)).toEqual([8]);
    expect(frames[0]!.payload.subarray(2).toString()).toBe('done');
    expect(h.transport.disconnecting).toBe(false);
    h.receive(clientFrame(1, 'discarded after our Close'));
    h.receive(clientClose(4001));
    frames = decodeServer(h.transport.value()).frames;
    expect(frames.length).toBe(1);
    expect(h.transport.disconnecting).toBe(true);
    h.connectionLost();
    expect(ws().lost).toMatchObject({ closeCode: 4001, wasClean: true });
    expect(ws().events).toEqual(['open /chat ']);
  });

  it('close(): drops a peer that does not answer within closeTimeout (1006)', () => {
    const { h, ws } = connect({ closeTimeout: 3 });
    h.receive(upgradeRequest());
    ws().close(1000);
    h.advance(2.9);
    expect(h.transport.aborted).toBe(false);
    h.advance(0.2);
    expect(h.transport.aborted).toBe(true);
    expect(ws().lost).toMatchObject({ closeCode: 1006, wasClean: false });
    expect(ws().lost?.cause).toBeInstanceOf(WebSocketCloseTimeoutError);
  });

  it('close() refuses codes an endpoint may not send', () => {
    const { h, ws } = connect();
    h.receive(upgradeRequest());
    for (const code of [999, 1004, 1005, 1006, 1015, 2000, 5000]) expect(() => ws().close(code), String(code)).toThrow(WebSocketInvalidCloseError);
    expect(() => ws().close(1000, 'x'.repeat(124))).toThrow(WebSocketInvalidCloseError);
  });

  it('pings a peer silent for pingInterval and drops it pingTimeout later (1006), each at most one sweep late; a pong keeps it', () => {
    // One sweep per service checks every WebSocket each quarter of the shorter limit (here 1 s), not a timer per connection.
    const { h, ws } = connect({ pingInterval: 10, pingTimeout: 5 });
    h.receive(upgradeRequest());
    const pings = () => decodeServer(h.transport.value()).frames.filter((f) => f.opcode === 9).length;
    const until = (done: () => boolean) => {
      let waited = 0;
      while (!done() && waited < 60) {
        h.advance(0.25);
        waited += 0.25;
      }
      return waited;
    };
    let waited = until(() => pings() === 1);
    expect(waited).toBeGreaterThanOrEqual(10);
    expect(waited).toBeLessThanOrEqual(11);
    h.receive(clientFrame(0xa, 'pong'));
    expect(ws().events).toContain('pong:pong');
    // The pong is the peer heard: silence counts again from there.
    waited = until(() => pings() === 2);
    expect(waited).toBeGreaterThanOrEqual(10);
    expect(waited).toBeLessThanOrEqual(11.25);
    expect(h.transport.aborted).toBe(false);
    waited = until(() => h.transport.aborted);
    expect(waited).toBeGreaterThanOrEqual(4.75);
    expect(waited).toBeLessThanOrEqual(6.25);
    expect(ws().lost?.cause).toBeInstanceOf(WebSocketPingTimeoutError);
    expect(ws().lost?.closeCode).toBe(1006);
    expect(pings()).toBe(2);
  });

  it('keeps no timer per connection for pings: one sweep per service, stopped when its last WebSocket ends', () => {
    const factory = new WebSocketFactory({ protocol: Recorder, options: { pingInterval: 10, pingTimeout: 5 } });
    factory.startFactory();
    const runs = [0, 1, 2].map(() => connectProtocol(factory.buildProtocol(), { factory }));
    const clock = runs[0]!.clock!;
    for (const h of runs) h.receive(upgradeRequest());
    expect(clock.getDelayedCalls()).toHaveLength(1);
    for (const h of runs) h.connectionLost();
    expect(clock.getDelayedCalls()).toHaveLength(0);
  });

  it('drain closes with 1001 (going away) after the message being handled', async () => {
    let finish!: () => void;
    class Slow extends Recorder {
      override messageReceived(data: Buffer): Promise<void> {
        return new Promise<void>((resolve) => (finish = resolve)).then(() => void this.sendMessage(data.toString()));
      }
    }
    const factory = new WebSocketFactory({ protocol: Slow });
    const h = connectProtocol(factory.buildProtocol(), { factory });
    h.receive(upgradeRequest());
    h.receive(clientFrame(1, 'in flight'));
    h.protocol.drain();
    expect(decodeServer(h.transport.value()).frames).toEqual([]);
    finish();
    await new Promise((r) => setImmediate(r));
    const frames = decodeServer(h.transport.value()).frames;
    expect(frames.map((f) => f.opcode)).toEqual([1, 8]);
    expect(closeCodeOf(frames[1])).toBe(1001);
  });

  it('sends a message in frames of fragmentSize when asked', () => {
    const { h, ws } = connect();
    h.receive(upgradeRequest());
    ws().sendMessage('abcdefghij', { fragmentSize: 4 });
    const frames = decodeServer(h.transport.value()).frames;
    expect(frames.map((f) => [f.opcode, f.fin, f.payload.toString()])).toEqual([
      [1, false, 'abcd'],
      [0, false, 'efgh'],
      [0, true, 'ij'],
    ]);
  });
});

describe('permessage-deflate', () => {
  const offer = { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' };
  /** A compressed client message: raw deflate without the 00 00 FF FF tail. */
  const compressed = (data: Buffer | string) => {
    const out = deflateRawSync(typeof data === 'string' ? Buffer.from(data) : data, { finishFlush: 2 /* Z_SYNC_FLUSH */ });
    return out.subarray(0, out.length - 4);
  };

  it('is negotiated with no context takeover both ways by default, and decompresses messages', () => {
    const { h, ws } = connect({ perMessageDeflate: true });
    h.receive(upgradeRequest(offer));
    const { head } = decodeServer(h.transport.value());
    expect(head).toContain('Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n');
    const payload = compressed('hello '.repeat(400));
    h.receive(Buffer.concat([clientFrame(1, payload, { rsv1: true }), clientFrame(1, payload.subarray(0, 10), { rsv1: true, fin: false }), clientFrame(0, payload.subarray(10))]));
    expect(ws().events.slice(1)).toEqual([`text:${'hello '.repeat(400)}`, `text:${'hello '.repeat(400)}`]);
    // Echoes over the threshold leave compressed (RSV1).
    const frames = decodeServer(h.transport.value()).frames;
    expect(frames.map((f) => f.rsv1)).toEqual([true, true]);
  });

  it('is not negotiated when the service leaves it off, or the offer has bad parameters', () => {
    const off = connect();
    off.h.receive(upgradeRequest(offer));
    expect(off.h.written()).not.toContain('Sec-WebSocket-Extensions');
    const bad = connect({ perMessageDeflate: true });
    bad.h.receive(upgradeRequest({ 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=99, permessage-deflate; mystery' }));
    expect(bad.h.written()).toMatch(/^HTTP\/1\.1 101/);
    expect(bad.h.written()).not.toContain('Sec-WebSocket-Extensions');
  });

  it('closes a zip bomb with 1009 once its output passes maxMessageBytes', () => {
    const { h, ws } = connect({ perMessageDeflate: true, maxMessageBytes: 64 * 1024 });
    h.receive(upgradeRequest(offer));
    const bomb = compressed(Buffer.alloc(10 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(20 * 1024);
    h.receive(clientFrame(2, bomb, { rsv1: true }));
    expect(closeCodeOf(decodeServer(h.transport.value()).frames.at(-1))).toBe(1009);
    expect(ws().events).toEqual(['open /chat ']);
  }, 60_000);

  it('closes corrupt compressed data with 1007, and the next connection still works', () => {
    const { h } = connect({ perMessageDeflate: true });
    h.receive(upgradeRequest(offer));
    h.receive(clientFrame(1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]), { rsv1: true }));
    expect(closeCodeOf(decodeServer(h.transport.value()).frames.at(-1))).toBe(1007);
    const next = connect({ perMessageDeflate: true });
    next.h.receive(upgradeRequest(offer));
    next.h.receive(clientFrame(1, compressed('fine'), { rsv1: true }));
    expect(next.ws().events.slice(1)).toEqual(['text:fine']);
  });

  it('keeps a context per connection when context takeover is chosen', () => {
    const { h, ws } = connect({ perMessageDeflate: { clientNoContextTakeover: false, serverNoContextTakeover: false, threshold: 0 } });
    h.receive(upgradeRequest({ 'Sec-WebSocket-Extensions': 'permessage-deflate' }));
    expect(decodeServer(h.transport.value()).head).toContain('Sec-WebSocket-Extensions: permessage-deflate\r\n');
    ws().sendMessage('same same same');
    ws().sendMessage('same same same');
    const frames = decodeServer(h.transport.value()).frames;
    // With takeover the second copy compresses to a back-reference: shorter than the first.
    expect(frames[1]!.payload.length).toBeLessThan(frames[0]!.payload.length);
  });
});

describe('no byte sequence breaks the protocol', () => {
  it('random bytes after the handshake end in a Close frame or nothing, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 17 }), fc.boolean(), (bytes, chunkSize, deflate) => {
        const { h } = connect({ perMessageDeflate: deflate, maxMessageBytes: 4096 });
        h.receive(upgradeRequest(deflate ? { 'Sec-WebSocket-Extensions': 'permessage-deflate' } : {}));
        h.receive(Buffer.from(bytes), { chunkSize });
        expect(h.errorCodes.filter((c) => c === 'SKEIN_ERR_PROTOCOL_CALLBACK')).toEqual([]);
        const { frames, error } = decodeServer(h.transport.value());
        expect(error).toBeUndefined();
        const last = frames.at(-1);
        if (h.transport.disconnecting) expect([1000, 1002, 1005, 1007, 1009]).toContain(closeCodeOf(last));
      }),
      { numRuns: 400 },
    );
  }, 120_000);

  it('random valid frame sequences are parsed the same in every chunking', () => {
    const frameArb = fc.oneof(
      fc.string({ maxLength: 200 }).map((s) => ({ kind: 'text', data: Buffer.from(s) })),
      fc.uint8Array({ maxLength: 300 }).map((b) => ({ kind: 'binary', data: Buffer.from(b) })),
      fc.string({ maxLength: 100 }).map((s) => ({ kind: 'ping', data: Buffer.from(s).subarray(0, 125) })),
    );
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 8 }), fc.integer({ min: 1, max: 64 }), (specs, chunkSize) => {
        const frames = specs.map((s) => clientFrame(s.kind === 'text' ? 1 : s.kind === 'binary' ? 2 : 9, s.data));
        const { h, ws } = connect();
        h.receive(Buffer.concat([Buffer.from(upgradeRequest()), ...frames]), { chunkSize });
        const expected = specs.filter((s) => s.kind !== 'ping').map((s) => (s.kind === 'text' ? `text:${s.data.toString()}` : `binary:${s.data.toString('hex')}`));
        expect(ws().events.slice(1)).toEqual(expected);
        expect(h.transport.disconnecting).toBe(false);
      }),
      { numRuns: 200 },
    );
  }, 120_000);
});

describe('streaming messages (streamMessages, beginMessage)', () => {
  /** Records each message's pieces as they arrive; echoes each whole message by streaming it back. */
  class Streamer extends Recorder {
    override streamMessages = true;
    private binary = false;
    private pieces: Buffer[] = [];

    override messageStarted(isBinary: boolean): void {
      this.binary = isBinary;
      this.pieces = [];
      this.events.push(`start:${isBinary ? 'binary' : 'text'}`);
    }

    override messageChunk(data: Buffer): void {
      this.events.push(`chunk:${data.length}`);
      this.pieces.push(Buffer.from(data));
    }

    override messageEnded(): void {
      const data = Buffer.concat(this.pieces);
      this.events.push(`end:${this.binary ? data.toString('hex') : data.toString()}`);
      const out = this.beginMessage({ binary: this.binary });
      for (const piece of this.pieces) out.write(piece);
      out.end();
    }
  }
  const streaming = (options: Record<string, unknown> = {}) => connect(options, { protocol: Streamer as unknown as new () => Recorder });
  const text = 'héllo wörld, '.repeat(8);
  const frames = [clientFrame(1, Buffer.from(text).subarray(0, 40), { fin: false }), clientFrame(9, 'p'), clientFrame(0, Buffer.from(text).subarray(40)), clientFrame(2, Buffer.from([1, 2, 3]))];

  it('hands each message over in pieces as its bytes arrive, in every chunking, and never to messageReceived', () => {
    const total = Buffer.concat([Buffer.from(upgradeRequest()), ...frames]);
    for (const chunkSize of [total.length, 1, 2, 3, 7, 13]) {
      const { h, ws } = streaming();
      h.receive(Buffer.from(total), { chunkSize });
      const events = ws().events.slice(1);
      const ends = events.filter((e) => e.startsWith('end:'));
      expect(ends, `chunks of ${chunkSize}`).toEqual([`end:${text}`, 'end:010203']);
      expect(events[0]).toBe('start:text');
      expect(events.filter((e) => e.startsWith('text:') || e.startsWith('binary:'))).toEqual([]);
      // Pieces arrive as the bytes do: never more bytes than the chunk held, and not held back until the frame ends.
      const chunks = events.filter((e) => e.startsWith('chunk:')).map((e) => Number(e.slice(6)));
      expect(Math.max(...chunks)).toBeLessThanOrEqual(chunkSize);
      if (chunkSize < 20) expect(chunks.length).toBeGreaterThan(4);
      // The echo went back in pieces too: a text message of several frames, then a binary one.
      const out = decodeServer(h.transport.value()).frames.filter((f) => f.opcode !== 0xa);
      const texts = out.slice(0, out.findIndex((f) => f.fin) + 1);
      expect(texts[0]!.opcode).toBe(1);
      expect(texts.slice(1).every((f) => f.opcode === 0)).toBe(true);
      expect(Buffer.concat(texts.map((f) => f.payload)).toString()).toBe(text);
      expect(out.at(-1)!.opcode === 2 || out.at(-1)!.opcode === 0).toBe(true);
    }
  });

  it('fails invalid UTF-8 at the piece where it becomes invalid (1007), with no messageEnded', () => {
    const bad = Buffer.concat([Buffer.from('ok '), Buffer.from([0xc3, 0x28]), Buffer.from(' more')]);
    const { h, ws } = streaming();
    h.receive(Buffer.concat([Buffer.from(upgradeRequest()), clientFrame(1, bad)]), { chunkSize: 1 });
    expect(ws().events.filter((e) => e.startsWith('end:'))).toEqual([]);
    expect(ws().events.filter((e) => e.startsWith('chunk:')).length).toBeLessThanOrEqual(4);
    expect(ws().lost?.closeCode).toBe(1007);
  });

  it('still refuses a message over maxMessageBytes from its frame header (1009)', () => {
    const { h, ws } = streaming({ maxMessageBytes: 64 });
    h.receive(Buffer.concat([Buffer.from(upgradeRequest()), clientFrame(2, Buffer.alloc(40), { fin: false }), clientFrame(0, Buffer.alloc(40))]));
    expect(ws().events.filter((e) => e.startsWith('end:'))).toEqual([]);
    expect(ws().lost?.closeCode).toBe(1009);
  });

  it('delivers a compressed message whole, decompressed, as one piece', () => {
    const { h, ws } = streaming({ perMessageDeflate: true });
    h.receive(upgradeRequest({ 'Sec-WebSocket-Extensions': 'permessage-deflate' }));
    const out = deflateRawSync(Buffer.from('squeeze '.repeat(300)), { finishFlush: 2 });
    h.receive(clientFrame(1, out.subarray(0, out.length - 4), { rsv1: true }), { chunkSize: 5 });
    expect(ws().events.slice(1, 4)).toEqual(['start:text', `chunk:${8 * 300}`, `end:${'squeeze '.repeat(300)}`]);
  });

  it('beginMessage sends one frame per write; sendMessage waits for end, pings do not', () => {
    const { h, ws } = connect();
    h.receive(upgradeRequest());
    h.transport.clear();
    const out = ws().beginMessage({ binary: false });
    expect(() => ws().beginMessage()).toThrow(InvalidStateError);
    out.write('one ');
    out.write('');
    ws().ping('between');
    expect(() => ws().sendMessage('no')).toThrow(InvalidStateError);
    out.write(Buffer.from('two'));
    expect(out.end(' three')).toBe(true);
    expect(out.write('late')).toBe(false);
    expect(ws().sendMessage('after')).toBe(true);
    const frames = decodeServer(h.transport.value()).frames.map((f) => [f.opcode, f.fin, f.payload.toString()]);
    expect(frames).toEqual([
      [1, false, 'one '],
      [9, true, 'between'],
      [0, false, 'two'],
      [0, true, ' three'],
      [1, true, 'after'],
    ]);
  });

  it('beginMessage before the WebSocket is open throws; a writer stops once the WebSocket closes', () => {
    expect(() => new Recorder().beginMessage()).toThrow(InvalidStateError);
    const { h, ws } = connect();
    h.receive(upgradeRequest());
    const out = ws().beginMessage();
    ws().close(1000);
    expect(out.write('x')).toBe(false);
    expect(out.end()).toBe(false);
  });
});
