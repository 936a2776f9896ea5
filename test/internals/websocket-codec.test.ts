import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameParser } from '../../src/protocols/websocket/frame-parser.js';
import { applyMask, encodeFrame, encodeTextFrame, isSendableCloseCode } from '../../src/protocols/websocket/frame.js';
import { negotiateDeflate, parseExtensions, PER_MESSAGE_DEFLATE_DEFAULTS } from '../../src/protocols/websocket/deflate.js';
import { Utf8Stream } from '../../src/protocols/websocket/utf8.js';
import { resolveWebSocketOptions } from '../../src/protocols/websocket/options.js';
import { InvalidOptionError } from '../../src/shared/protocol/errors.js';

describe('Utf8Stream', () => {
  it('agrees with isUtf8 of the whole text, however the bytes are cut', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 20 }).map((s) => new Uint8Array(Buffer.from(s))),
    );
    fc.assert(
      fc.property(bytes, fc.array(fc.nat(40), { maxLength: 6 }), (data, cuts) => {
        const buf = Buffer.from(data);
        const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
        const stream = new Utf8Stream();
        let ok = true;
        let at = 0;
        for (const p of [...points, buf.length]) {
          ok = stream.push(buf.subarray(at, p)) && ok;
          at = p;
          if (!ok) break;
        }
        if (ok) ok = stream.end();
        expect(ok).toBe(isUtf8(buf));
      }),
      { numRuns: 2000 },
    );
  }, 120_000);

  it('fails at the first byte that makes the text invalid (surrogates, overlongs, bad leads)', () => {
    for (const bad of [[0xed, 0xa0], [0xc0], [0xe0, 0x80], [0xf4, 0x90], [0xf5]]) {
      expect(new Utf8Stream().push(Buffer.from(bad)), bad.join(',')).toBe(false);
    }
    expect(new Utf8Stream().push(Buffer.from([0xf0, 0x9d]))).toBe(true);
  });
});

describe('frame encoding', () => {
  it('round-trips frames of every length form, masked and not, through the parser', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70_000 }), fc.boolean(), fc.integer({ min: 1, max: 4096 }), (length, masked, chunk) => {
        const payload = Buffer.alloc(length, 0x5a);
        const mask = masked ? Buffer.from([1, 2, 3, 4]) : undefined;
        const encoded = encodeFrame(2, payload, true, false, mask);
        const wire = Array.isArray(encoded) ? Buffer.concat(encoded) : Buffer.from(encoded);
        const got: Buffer[] = [];
        const parser = new FrameParser({ frame: (_op, _fin, _rsv1, p) => got.push(Buffer.from(p)), fail: (e) => expect.fail(e.message) }, { maxMessageBytes: 1 << 20, expectMasked: masked, rsv1Allowed: false });
        for (let i = 0; i < wire.length; i += chunk) parser.push(wire.subarray(i, i + chunk));
        if (length === 0 && wire.length === 0) return;
        expect(got.length).toBe(1);
        expect(got[0]!.equals(payload)).toBe(true);
      }),
      { numRuns: 300 },
    );
  }, 120_000);

  it('encodes text without an intermediate buffer and masks with the phase carried over', () => {
    expect(Buffer.from(encodeTextFrame(1, 'hé') as Buffer)).toEqual(Buffer.from([0x81, 3, 0x68, 0xc3, 0xa9]));
    const data = Buffer.from('abcdefg');
    const mask = 0x09080706;
    const whole = Buffer.from(data);
    applyMask(whole, 0, 7, mask, 0);
    expect(whole).toEqual(Buffer.from(data.map((b, i) => b ^ [9, 8, 7, 6][i % 4]!)));
    for (const cut of [1, 2, 3, 5]) {
      const pieces = Buffer.from(data);
      const phase = applyMask(pieces, 0, cut, mask, 0);
      applyMask(pieces, cut, 7, mask, phase);
      expect(pieces, `cut at ${cut}`).toEqual(whole);
    }
  });

  it('knows which close codes may be sent', () => {
    expect([1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999].every(isSendableCloseCode)).toBe(true);
    expect([0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5].some(isSendableCloseCode)).toBe(false);
  });
});

describe('permessage-deflate negotiation', () => {
  const negotiate = (header: string, options = PER_MESSAGE_DEFLATE_DEFAULTS) => negotiateDeflate(parseExtensions(header) ?? [], options)?.response;

  it('answers the first acceptable offer with the parameters it holds to', () => {
    expect(negotiate('permessage-deflate')).toBe('permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    expect(negotiate('x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10')).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10',
    );
    expect(negotiate('permessage-deflate; client_max_window_bits', { ...PER_MESSAGE_DEFLATE_DEFAULTS, clientMaxWindowBits: 10, clientNoContextTakeover: false })).toBe(
      'permessage-deflate; server_no_context_takeover; client_max_window_bits=10',
    );
    expect(negotiate('permessage-deflate; client_max_window_bits="12"')).toContain('permessage-deflate');
  });

  it('declines offers with unknown, repeated or out-of-range parameters (RFC 7692 §5), and malformed headers', () => {
    expect(negotiate('permessage-deflate; mystery')).toBeUndefined();
    expect(negotiate('permessage-deflate; server_no_context_takeover; server_no_context_takeover')).toBeUndefined();
    expect(negotiate('permessage-deflate; server_max_window_bits=8')).toBeUndefined();
    expect(negotiate('permessage-deflate; client_max_window_bits=16')).toBeUndefined();
    expect(negotiate('permessage-deflate; server_no_context_takeover=1')).toBeUndefined();
    expect(parseExtensions('permessage-deflate; "bad')).toBeUndefined();
    expect(negotiate('permessage-deflate; mystery, permessage-deflate')).toBe('permessage-deflate; server_no_context_takeover; client_no_context_takeover');
  });
});

describe('WebSocket options', () => {
  it('resolves over the defaults and names a bad option', () => {
    expect(resolveWebSocketOptions({}).maxMessageBytes).toBe(1024 * 1024);
    expect(resolveWebSocketOptions({ perMessageDeflate: true }).perMessageDeflate).toEqual(PER_MESSAGE_DEFLATE_DEFAULTS);
    expect(resolveWebSocketOptions({ subprotocols: 'a, b' }).subprotocols).toEqual(['a', 'b']);
    expect(() => resolveWebSocketOptions({ maxMessageBytes: 0 })).toThrow(/options\.maxMessageBytes/);
    expect(() => resolveWebSocketOptions({ pingTimeout: 0 })).toThrow(InvalidOptionError);
    expect(() => resolveWebSocketOptions({ perMessageDeflate: { level: 12 } })).toThrow(/perMessageDeflate\.level/);
    expect(() => resolveWebSocketOptions({ perMessageDeflate: { windowBits: 12 } })).toThrow(/not an option/);
    expect(() => resolveWebSocketOptions({ subprotocols: ['bad token'] })).toThrow(/subprotocols/);
  });
});
