import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LineReceiver } from '../../src/shared/protocol/framing/line-receiver.js';
import { connectProtocol, StringTransport } from '../../src/testing.js';

/** Records lines and raw data. `len N` switches to raw mode for N bytes (Twisted's LineTester). */
class LineTester extends LineReceiver {
  events: string[] = [];
  private rawLeft = 0;

  override lineReceived(line: Buffer): void {
    const text = line.toString('latin1');
    this.events.push(`line:${text}`);
    const m = /^len (\d+)$/.exec(text);
    if (m) {
      this.rawLeft = Number(m[1]);
      this.setRawMode();
    }
    if (text === 'stop') this.transport.loseConnection();
  }

  override rawDataReceived(data: Buffer): void {
    const take = data.subarray(0, this.rawLeft);
    this.rawLeft -= take.length;
    this.events.push(`raw:${take.toString('latin1')}`);
    if (this.rawLeft === 0) this.setLineMode(data.subarray(take.length));
  }
}

/** Raw events coalesced: how raw data is chunked legitimately depends on arrival. */
function normalized(events: string[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    const last = out[out.length - 1];
    if (e.startsWith('raw:') && last?.startsWith('raw:')) out[out.length - 1] = last + e.slice(4);
    else out.push(e);
  }
  return out.filter((e) => e !== 'raw:');
}

/** Feeds `input` as one chunk and in chunks of 1, 2, 3 … bytes; returns what each run saw. */
function replay<P extends LineReceiver>(make: () => P, input: string, see: (p: P, h: ReturnType<typeof connectProtocol<P>>) => unknown) {
  const sizes = [input.length, ...Array.from({ length: Math.min(input.length, 40) }, (_, i) => i + 1)];
  return sizes.map((chunkSize) => {
    const h = connectProtocol(make());
    h.receive(input, { chunkSize });
    return { chunkSize, seen: see(h.protocol, h) };
  });
}

describe('LineReceiver', () => {
  it('delivers the same lines and raw data in every chunking (Twisted test_buffer)', () => {
    const input = 'len 10\r\n0123456789hello\r\nworld\r\nlen 3\r\nabcmore lines\r\n\r\nlast\r\n';
    const expected = ['line:len 10', 'raw:0123456789', 'line:hello', 'line:world', 'line:len 3', 'raw:abc', 'line:more lines', 'line:', 'line:last'];
    for (const run of replay(() => new LineTester(), input, (p) => normalized(p.events))) {
      expect(run.seen, `chunkSize ${run.chunkSize}`).toEqual(expected);
    }
  });

  it('stops delivering lines once the protocol closes the connection', () => {
    for (const run of replay(() => new LineTester(), 'a\r\nstop\r\nb\r\nc\r\n', (p, h) => ({ events: p.events, lost: h.lostReason?.name }))) {
      expect(run.seen, `chunkSize ${run.chunkSize}`).toEqual({ events: ['line:a', 'line:stop'], lost: 'ConnectionDone' });
    }
  });

  it('accepts a line of exactly maxLength and closes on maxLength + 1, with SKEIN_ERR_LINE_TOO_LONG, in every chunking', () => {
    const make = () => Object.assign(new LineTester(), { maxLength: 8 });
    for (const run of replay(make, 'ok\r\n12345678\r\n123456789\r\nnever\r\n', (p, h) => ({ events: p.events, codes: h.errorCodes, lost: h.lostReason?.name }))) {
      expect(run.seen, `chunkSize ${run.chunkSize}`).toEqual({
        events: ['line:ok', 'line:12345678'],
        codes: ['SKEIN_ERR_LINE_TOO_LONG'],
        lost: 'LineTooLongError',
      });
    }
  });

  it('closes on an unterminated line as soon as it cannot fit, without waiting for a delimiter', () => {
    const h = connectProtocol(Object.assign(new LineTester(), { maxLength: 100 }));
    h.receive('x'.repeat(101), { chunkSize: 7 });
    // 101 bytes may still be a 100-byte line whose CRLF is on its way.
    expect(h.closedWith).toBeUndefined();
    h.receive('x');
    expect(h.closedWith?.name).toBe('LineTooLongError');
    h.receive('y'.repeat(10));
    expect(h.transport.aborted).toBe(true);
    expect(h.lostReason).toBeInstanceOf(Error);
    expect((h.lostReason as Error & { code: string }).code).toBe('SKEIN_ERR_LINE_TOO_LONG');
  });

  it('lets lineLengthExceeded skip the line and carry on', () => {
    class Lenient extends LineTester {
      override maxLength = 4;
      override lineLengthExceeded(line: Buffer): void {
        this.events.push(`skipped:${line.length}`);
      }
    }
    const h = connectProtocol(new Lenient());
    h.receive('abcdefgh\r\nok\r\n');
    expect(h.protocol.events).toEqual(['skipped:14']);
    h.receive('ok\r\n');
    expect(h.protocol.events).toEqual(['skipped:14', 'line:ok']);
    expect(h.transport.disconnecting).toBe(false);
  });

  it('supports other delimiters, including one split across chunks', () => {
    class Pipe extends LineTester {
      override delimiter = '||';
    }
    for (const run of replay(() => new Pipe(), 'a||bb|c||||', (p) => p.events)) {
      expect(run.seen, `chunkSize ${run.chunkSize}`).toEqual(['line:a', 'line:bb|c', 'line:']);
    }
  });

  it('sendLine writes the line and the delimiter in one gathered write', () => {
    const transport = new StringTransport();
    const calls: string[] = [];
    let nested = false;
    const { write, writeSequence } = transport;
    transport.write = (data) => {
      if (!nested) calls.push('write');
      write.call(transport, data);
    };
    transport.writeSequence = (chunks) => {
      calls.push(`writeSequence(${chunks.length})`);
      nested = true;
      writeSequence.call(transport, chunks);
      nested = false;
    };
    const h = connectProtocol(new LineTester(), { transport });
    h.protocol.sendLine('hello');
    h.protocol.sendLine(Buffer.from('world'));
    expect(calls).toEqual(['writeSequence(2)', 'writeSequence(2)']);
    expect(h.written()).toBe('hello\r\nworld\r\n');
  });

  it('with acceptBareLF, ends lines at \\r\\n or a bare \\n and strips one \\r, in every chunking', () => {
    const make = () => Object.assign(new LineTester(), { acceptBareLF: true });
    for (const run of replay(make, 'a\nb\r\nc\r\r\n\n\rd\nlen 2\n\n\ne\r\n', (p) => normalized(p.events))) {
      expect(run.seen, `chunkSize ${run.chunkSize}`).toEqual(['line:a', 'line:b', 'line:c\r', 'line:', 'line:\rd', 'line:len 2', 'raw:\n\n', 'line:e']);
    }
  });

  it('with acceptBareLF, maxLength counts the line without its ending, in every chunking', () => {
    const make = () => Object.assign(new LineTester(), { acceptBareLF: true, maxLength: 4 });
    for (const run of replay(make, '1234\r\n1234\n12345\nnever\n', (p, h) => ({ events: p.events, codes: h.errorCodes }))) {
      expect(run.seen, `chunkSize ${run.chunkSize}`).toEqual({ events: ['line:1234', 'line:1234'], codes: ['SKEIN_ERR_LINE_TOO_LONG'] });
    }
    // Five bytes ending in \r may still be a 4-byte line whose \n is on its way.
    const h = connectProtocol(make());
    h.receive('1234\r');
    expect(h.closedWith).toBeUndefined();
    h.receive('\n');
    expect(h.protocol.events).toEqual(['line:1234']);
  });

  it('acceptBareLF has no effect with another delimiter', () => {
    class Pipe extends LineTester {
      override delimiter = '||';
      override acceptBareLF = true;
    }
    const h = connectProtocol(new Pipe());
    h.receive('a\nb||c\r\n||');
    expect(h.protocol.events).toEqual(['line:a\nb', 'line:c\r\n']);
  });

  it('picks up a delimiter changed by lineReceived for the rest of the same chunk', () => {
    class Switcher extends LineTester {
      override lineReceived(line: Buffer): void {
        super.lineReceived(line);
        if (line.toString() === 'pipes') this.delimiter = '|';
      }
    }
    for (const run of replay(() => new Switcher(), 'one\r\npipes\r\ntwo|three|', (p) => p.events)) {
      expect(run.seen, `chunkSize ${run.chunkSize}`).toEqual(['line:one', 'line:pipes', 'line:two', 'line:three']);
    }
  });

  it('parses bytes fed back in by lineReceived after the rest of the chunk, in order', () => {
    class Feeder extends LineTester {
      override lineReceived(line: Buffer): void {
        super.lineReceived(line);
        if (line.toString() === 'again') this.dataReceived(Buffer.from('fed\r\n'));
      }
    }
    const h = connectProtocol(new Feeder());
    h.receive('again\r\nrest\r\npart');
    h.receive('ial\r\n');
    expect(h.protocol.events).toEqual(['line:again', 'line:rest', 'line:partfed', 'line:ial']);
  });

  it('clearLineBuffer returns and forgets a partial line', () => {
    const h = connectProtocol(new LineTester());
    h.receive('partial');
    expect(h.protocol.clearLineBuffer().toString()).toBe('partial');
    h.receive(' line\r\n');
    expect(h.protocol.events).toEqual(['line: line']);
  });
});

describe('LineReceiver properties', () => {
  const lineBytes = fc.uint8Array({ maxLength: 120 }).filter((b) => !Buffer.from(b).includes('\r\n'));

  it('encode → split anywhere → decode is the identity', () => {
    fc.assert(
      fc.property(fc.array(lineBytes, { maxLength: 15 }), fc.array(fc.nat(), { maxLength: 10 }), (lines, cuts) => {
        const sender = connectProtocol(new LineTester());
        for (const l of lines) sender.protocol.sendLine(Buffer.from(l));
        const stream = sender.transport.value();
        const points = [...new Set(cuts.map((c) => (stream.length ? c % stream.length : 0)))].sort((a, b) => a - b);
        const h = connectProtocol(new LineTester());
        let at = 0;
        for (const p of [...points, stream.length]) {
          h.receive(stream.subarray(at, p));
          at = p;
        }
        expect(h.protocol.events).toEqual(lines.map((l) => `line:${Buffer.from(l).toString('latin1')}`));
      }),
      { numRuns: 200 },
    );
  });

  it('with acceptBareLF, lines ended by either \\n or \\r\\n, split anywhere, decode to the lines', () => {
    const bare = fc.uint8Array({ maxLength: 60 }).filter((b) => !b.includes(0x0a) && b[b.length - 1] !== 0x0d);
    fc.assert(
      fc.property(fc.array(fc.tuple(bare, fc.boolean()), { maxLength: 15 }), fc.array(fc.nat(), { maxLength: 10 }), (lines, cuts) => {
        const stream = Buffer.concat(lines.map(([l, crlf]) => Buffer.concat([Buffer.from(l), Buffer.from(crlf ? '\r\n' : '\n')])));
        const points = [...new Set(cuts.map((c) => (stream.length ? c % stream.length : 0)))].sort((a, b) => a - b);
        const h = connectProtocol(Object.assign(new LineTester(), { acceptBareLF: true }));
        let at = 0;
        for (const p of [...points, stream.length]) {
          h.receive(stream.subarray(at, p));
          at = p;
        }
        expect(h.protocol.events).toEqual(lines.map(([l]) => `line:${Buffer.from(l).toString('latin1')}`));
      }),
      { numRuns: 200 },
    );
  });

  it('never throws out of the protocol, whatever bytes arrive (mode switches included)', () => {
    const noise = fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.constantFrom('len 3\r\n', 'len 0\r\n', '\r\n', '\r').map((s) => Buffer.from(s))), {
      maxLength: 30,
    });
    fc.assert(
      fc.property(noise, (chunks) => {
        const p = Object.assign(new LineTester(), { maxLength: 50 });
        p.makeConnection(new StringTransport());
        for (const c of chunks) expect(() => p.dataReceived(Buffer.from(c))).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});
