import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Int16StringReceiver, Int32StringReceiver, Int8StringReceiver, type IntNStringReceiver } from '../../src/shared/protocol/framing/int-string-receiver.js';
import { NetstringReceiver } from '../../src/shared/protocol/framing/netstring-receiver.js';
import { StringTooLongError } from '../../src/shared/protocol/errors.js';
import { connectProtocol, StringTransport } from '../../src/testing.js';

type Receiver = IntNStringReceiver | NetstringReceiver;
type Collector = Receiver & { strings: string[] };

function record(p: Collector, data: Buffer): void {
  p.strings.push(data.toString('latin1'));
}

/** Each receiver, recording the strings it receives. */
const kinds: Record<string, new () => Collector> = {
  Int8StringReceiver: class extends Int8StringReceiver {
    strings: string[] = [];
    override stringReceived(data: Buffer): void {
      record(this, data);
    }
  },
  Int16StringReceiver: class extends Int16StringReceiver {
    strings: string[] = [];
    override stringReceived(data: Buffer): void {
      record(this, data);
    }
  },
  Int32StringReceiver: class extends Int32StringReceiver {
    strings: string[] = [];
    override stringReceived(data: Buffer): void {
      record(this, data);
    }
  },
  NetstringReceiver: class extends NetstringReceiver {
    strings: string[] = [];
    override stringReceived(data: Buffer): void {
      record(this, data);
    }
  },
};

/** The bytes `sendString` writes for each string. */
function encode(Kind: new () => Receiver, strings: readonly (string | Uint8Array)[]): Buffer {
  const h = connectProtocol(new Kind());
  for (const s of strings) h.protocol.sendString(typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s));
  return h.transport.value();
}

/** Feeds `input` as one chunk and in chunks of 1, 2, 3 … bytes. */
function replay(Kind: new () => Collector, input: Buffer, setup: (p: Receiver) => void = () => {}) {
  const sizes = [input.length, ...Array.from({ length: Math.min(input.length, 40) }, (_, i) => i + 1)];
  return sizes.map((chunkSize) => {
    const p = new Kind();
    setup(p);
    const h = connectProtocol(p);
    h.receive(input, { chunkSize });
    return { chunkSize, strings: p.strings, codes: h.errorCodes, lost: h.lostReason?.name };
  });
}

describe.each(Object.entries(kinds))('%s', (_name, Kind) => {
  it('gives the same strings in every chunking, many frames per chunk or one frame over many', () => {
    const frames = ['hello', '', 'x'.repeat(200), 'a\r\nb,c:d', '\u00ff\u0000'];
    for (const run of replay(Kind, encode(Kind, frames))) {
      expect(run, `chunkSize ${run.chunkSize}`).toMatchObject({ strings: frames, codes: [], lost: undefined });
    }
  });

  it('closes with SKEIN_ERR_LENGTH_LIMIT_EXCEEDED on a frame over maxLength, after the frames before it', () => {
    const input = Buffer.concat([encode(Kind, ['ok', '1234567890']), encode(Kind, ['12345678901']), encode(Kind, ['never'])]);
    for (const run of replay(Kind, input, (p) => (p.maxLength = 10))) {
      expect(run, `chunkSize ${run.chunkSize}`).toMatchObject({
        strings: ['ok', '1234567890'],
        codes: ['SKEIN_ERR_LENGTH_LIMIT_EXCEEDED'],
        lost: 'LengthLimitExceededError',
      });
    }
  });

  it('encode → split anywhere → decode is the identity (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 255, size: 'medium' }), { maxLength: 12 }), // 255: Int8's largest frame
        fc.array(fc.nat(), { maxLength: 10 }),
        (frames, cuts) => {
          const stream = encode(Kind, frames);
          const points = [...new Set(cuts.map((c) => (stream.length ? c % stream.length : 0)))].sort((a, b) => a - b);
          const h = connectProtocol(new Kind());
          let at = 0;
          for (const p of [...points, stream.length]) {
            h.receive(stream.subarray(at, p));
            at = p;
          }
          const expected = frames.map((f) => Buffer.from(f).toString('latin1'));
          expect(h.protocol.strings).toEqual(expected);
          expect(h.errorCodes).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never throws out of the protocol, whatever bytes arrive (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
        const p = new Kind();
        p.maxLength = 100;
        const transport = new StringTransport();
        p.makeConnection(transport);
        for (const c of chunks) expect(() => p.dataReceived(Buffer.from(c))).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});

describe('Int*StringReceiver', () => {
  it('writes a big-endian length prefix and the body in one gathered write', () => {
    const t = new StringTransport();
    const p = new Int32StringReceiver();
    p.makeConnection(t);
    let sequences = 0;
    const original = t.writeSequence.bind(t);
    t.writeSequence = (chunks) => {
      sequences++;
      original(chunks);
    };
    p.sendString('abc');
    expect(sequences).toBe(1);
    expect(t.value()).toEqual(Buffer.from([0, 0, 0, 3, 0x61, 0x62, 0x63]));
    const p16 = connectProtocol(new Int16StringReceiver());
    p16.protocol.sendString(Buffer.alloc(258));
    expect(p16.transport.value().subarray(0, 2)).toEqual(Buffer.from([1, 2]));
  });

  it('refuses to send more than the prefix can express', () => {
    const h = connectProtocol(new Int8StringReceiver());
    expect(() => h.protocol.sendString(Buffer.alloc(256))).toThrow(StringTooLongError);
    h.protocol.sendString(Buffer.alloc(255));
    expect(h.transport.value().length).toBe(256);
  });

  it('refuses an over-long frame from its prefix alone, before the body arrives', () => {
    const h = connectProtocol(new Int32StringReceiver());
    h.receive(Buffer.from([0, 0x10, 0, 0])); // announces 1 MiB > 99999
    expect(h.errorCodes).toEqual(['SKEIN_ERR_LENGTH_LIMIT_EXCEEDED']);
    expect(h.transport.aborted).toBe(true);
  });
});

describe('NetstringReceiver', () => {
  it('writes `<length>:<body>,` in one gathered write', () => {
    const h = connectProtocol(new NetstringReceiver());
    h.protocol.sendString('hello');
    h.protocol.sendString('');
    expect(h.written()).toBe('5:hello,0:,');
  });

  it.each([
    ['a non-digit length', 'x:abc,'],
    ['a leading zero', '03:abc,'],
    ['a missing colon', '3;abc,'],
    ['a missing comma', '3:abc;'],
    ['an empty length', ':abc,'],
    ['a negative length', '-3:abc,'],
  ])('closes with SKEIN_ERR_NETSTRING_PARSE on %s, in every chunking', (_what, bad) => {
    for (const run of replay(kinds.NetstringReceiver!, Buffer.from(`2:ok,${bad}2:no,`))) {
      expect(run, `chunkSize ${run.chunkSize}`).toMatchObject({ strings: ['ok'], codes: ['SKEIN_ERR_NETSTRING_PARSE'], lost: 'NetstringParseError' });
    }
  });

  it('treats a length with more digits than maxLength allows as over the limit', () => {
    for (const run of replay(kinds.NetstringReceiver!, Buffer.from('1000000:'))) {
      expect(run, `chunkSize ${run.chunkSize}`).toMatchObject({ codes: ['SKEIN_ERR_LENGTH_LIMIT_EXCEEDED'] });
    }
  });
});
