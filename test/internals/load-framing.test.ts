import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeRequest, replyCounter, validateFraming, type FramingSpec } from '../../src/client/load/framing.js';
import { parseLoadArgs } from '../../src/client/load/options.js';
import { shareOut } from '../../src/client/load/runner.js';
import { InvalidOptionError } from '../../src/shared/protocol/errors.js';

/** Splits `data` into chunks of the given sizes (cycled), like a socket would. */
function chunked(data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < data.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(data.subarray(i, i + n));
    i += n;
  }
  return out;
}

function countAll(spec: FramingSpec, stream: Buffer, sizes: number[]): number {
  const counter = replyCounter(spec);
  return chunked(stream, sizes).reduce((sum, c) => sum + counter.consume(c), 0);
}

const chunkSizes = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 });

describe('skein load framing', () => {
  it('websocket: requests are masked text frames; replies are counted per message, control frames skipped, however chunked', () => {
    const request = encodeRequest({ framing: 'websocket', payload: Buffer.from('hello') });
    expect(request[0]).toBe(0x81);
    expect(request[1]).toBe(0x80 | 5);
    const mask = request.subarray(2, 6);
    expect(Buffer.from(request.subarray(6).map((b, i) => b ^ mask[i % 4]!))).toEqual(Buffer.from('hello'));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 70_000 }), { maxLength: 6 }), chunkSizes, (lengths, sizes) => {
        const frames = lengths.flatMap((n) => {
          const head = n < 126 ? Buffer.from([0x82, n]) : n < 0x10000 ? Buffer.from([0x82, 126, n >> 8, n & 255]) : Buffer.concat([Buffer.from([0x82, 127]), Buffer.from([0, 0, 0, 0, n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255])]);
          // A ping before each message, and the message in two frames when it is long.
          const ping = Buffer.from([0x89, 1, 0x70]);
          return [ping, head, Buffer.alloc(n)];
        });
        expect(countAll({ framing: 'websocket', payload: Buffer.from('x') }, Buffer.concat(frames), sizes.map((s) => s * 100))).toBe(lengths.length);
      }),
      { numRuns: 100 },
    );
    expect(parseLoadArgs(['--preset', 'ws-echo', '--path', '/echo']).spec).toMatchObject({ framing: 'websocket', path: '/echo' });
    expect(() => parseLoadArgs(['--path', '/echo'])).toThrow(InvalidOptionError);
  });

  it('line: counts replies ending in \\n or \\r\\n, however the stream is chunked', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: fc.constantFrom('a', 'b', ' ', '\r') }), { maxLength: 30 }), fc.boolean(), chunkSizes, (lines, crlf, sizes) => {
        const stream = Buffer.from(lines.map((l) => `Processed: ${l}${crlf ? '\r\n' : '\n'}`).join(''));
        expect(countAll({ framing: 'line', payload: Buffer.from('x') }, stream, sizes)).toBe(lines.length);
      }),
    );
  });

  it('int32: counts length-prefixed frames (including empty ones), however the stream is chunked', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 30 }), chunkSizes, (frames, sizes) => {
        const stream = Buffer.concat(frames.map((f) => encodeRequest({ framing: 'int32', payload: Buffer.from(f) })));
        expect(countAll({ framing: 'int32', payload: Buffer.from('x') }, stream, sizes)).toBe(frames.length);
      }),
    );
  });

  it('raw with a reply prefix: counts requests by echoed bytes, whatever chunks the server answered', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 20 }), chunkSizes, (size, groups, sizes) => {
        const payload = Buffer.alloc(size, 'x');
        // The server read each group of requests as one chunk and answered prefix + chunk.
        const stream = Buffer.concat(groups.map((g) => Buffer.concat([Buffer.from('Processed: '), Buffer.alloc(size * g, 'x')])));
        const spec: FramingSpec = { framing: 'raw', payload, replyPrefix: 'Processed: ' };
        expect(countAll(spec, stream, sizes)).toBe(groups.reduce((a, b) => a + b, 0));
      }),
    );
  });

  it('raw echo and fixed-size replies', () => {
    expect(countAll({ framing: 'raw', payload: Buffer.alloc(10) }, Buffer.alloc(95), [7])).toBe(9);
    expect(countAll({ framing: 'raw', payload: Buffer.alloc(10), replySize: 4 }, Buffer.alloc(95), [3])).toBe(23);
  });

  it('encodes requests for each framing', () => {
    expect(encodeRequest({ framing: 'line', payload: Buffer.from('hi') }).toString()).toBe('hi\r\n');
    expect(encodeRequest({ framing: 'line', payload: Buffer.from('hi'), delimiter: '\n' }).toString()).toBe('hi\n');
    expect([...encodeRequest({ framing: 'int32', payload: Buffer.from('hi') })]).toEqual([0, 0, 0, 2, 104, 105]);
    expect(encodeRequest({ framing: 'raw', payload: Buffer.from('hi') }).toString()).toBe('hi');
  });

  it('refuses payloads whose replies could not be told apart', () => {
    expect(() => validateFraming({ framing: 'raw', payload: Buffer.from('Pxx'), replyPrefix: 'Processed: ' })).toThrow(InvalidOptionError);
    expect(() => validateFraming({ framing: 'line', payload: Buffer.from('a\nb') })).toThrow(/line feed/);
    expect(() => validateFraming({ framing: 'line', payload: Buffer.from('a'), delimiter: ';' })).toThrow(/--delimiter/);
  });
});

describe('skein load options', () => {
  it('reads presets, sizes and text payloads, and names bad flags', () => {
    const o = parseLoadArgs(['--preset', 'processed', '-c', '5', '-p', '16', '-n', '1000', '--payload', '32']);
    expect(o).toMatchObject({ connections: 5, pipeline: 16, requests: 1000, duration: undefined, greeting: true });
    expect(o.spec).toMatchObject({ framing: 'raw', replyPrefix: 'Processed: ' });
    expect(o.spec.payload).toEqual(Buffer.alloc(32, 'x'));
    expect(parseLoadArgs(['--payload', 'hello world']).spec.payload.toString()).toBe('hello world');
    expect(parseLoadArgs([]).duration).toBe(10);
    expect(() => parseLoadArgs(['--connections', '0'])).toThrow(/--connections must be an integer >= 1/);
    expect(() => parseLoadArgs(['--duration', '1', '--requests', '5'])).toThrow(/exclusive/);
    expect(() => parseLoadArgs(['--bogus'])).toThrow(/unknown option/);
  });

  it('shares connections and requests out over threads exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 16 }), fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }), (c, t, r) => {
        const shares = shareOut(c, r, t);
        expect(shares.length).toBe(Math.min(c, t));
        expect(shares.reduce((s, x) => s + x.connections, 0)).toBe(c);
        for (const s of shares) expect(s.connections).toBeGreaterThan(0);
        if (r !== undefined) expect(shares.reduce((s, x) => s + x.requests!, 0)).toBe(r);
      }),
    );
  });
});
