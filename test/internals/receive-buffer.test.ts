import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReceiveBuffer } from '../../src/shared/protocol/framing/receive-buffer.js';
import { LineReceiver } from '../../src/shared/protocol/framing/line-receiver.js';
import { connectProtocol } from '../../src/testing.js';

describe('ReceiveBuffer', () => {
  it('keeps every handed-out view intact while more bytes arrive or are compacted (no byte is rewritten in place)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 700 }), fc.nat(800), fc.boolean()), { maxLength: 40 }), (steps) => {
        const buffer = new ReceiveBuffer();
        const stream: number[] = [];
        const taken: Array<{ view: Buffer; bytes: number[] }> = [];
        let consumed = 0;
        for (const [chunk, take, compact] of steps) {
          buffer.append(Buffer.from(chunk));
          stream.push(...chunk);
          const n = Math.min(take, buffer.length);
          const view = buffer.view().subarray(0, n);
          taken.push({ view, bytes: stream.slice(consumed, consumed + n) });
          buffer.consume(n);
          consumed += n;
          if (compact) buffer.compact();
        }
        for (const t of taken) expect([...t.view]).toEqual(t.bytes);
        expect([...buffer.view()]).toEqual(stream.slice(consumed));
      }),
      { numRuns: 200 },
    );
  });

  it('compact() moves what is left of a large read into a buffer of exactly its size', () => {
    const buffer = new ReceiveBuffer();
    const read = Buffer.alloc(64 * 1024, 'a');
    buffer.append(read);
    const first = buffer.view().subarray(0, 10);
    buffer.consume(40 * 1024);
    buffer.compact();
    const rest = buffer.view();
    expect(rest.length).toBe(24 * 1024);
    expect(rest.buffer.byteLength).toBe(24 * 1024); // the 64 KiB read is no longer kept
    expect(rest.buffer).not.toBe(read.buffer);
    expect(first.toString()).toBe('a'.repeat(10));
    buffer.compact(); // already its own: no copy
    expect(buffer.view().buffer).toBe(rest.buffer);
  });

  it('lines kept by the protocol without copying stay intact', () => {
    const kept: Buffer[] = [];
    const h = connectProtocol(
      new (class extends LineReceiver {
        override lineReceived(line: Buffer): void {
          kept.push(line);
        }
      })(),
    );
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i} ${'x'.repeat(i % 37)}`);
    h.receive(lines.map((l) => `${l}\r\n`).join(''), { chunkSize: 7 });
    expect(kept.map((b) => b.toString())).toEqual(lines);
  });

  it('keeps a small spare capacity once emptied, but lets a burst-sized one go', () => {
    const buffer = new ReceiveBuffer();
    const capacity = () => (buffer as unknown as { buf: Buffer }).buf.length;
    buffer.append(Buffer.alloc(10));
    buffer.append(Buffer.alloc(10));
    buffer.consume(20);
    expect(capacity()).toBeGreaterThan(0); // kept for the next small chunks
    buffer.append(Buffer.alloc(300 * 1024));
    buffer.append(Buffer.alloc(300 * 1024));
    expect(capacity()).toBeGreaterThanOrEqual(600 * 1024);
    buffer.consume(600 * 1024);
    expect(capacity()).toBe(0); // an idle connection does not hold what one burst grew
  });

  it('never keeps a slice of node\'s Buffer pool: what an idle connection holds is its own few bytes, not an 8 KiB slab', () => {
    const buffer = new ReceiveBuffer();
    const held = () => (buffer as unknown as { buf: Buffer }).buf;
    // A partial frame, then one byte at a time (the 1-byte-chunk attack).
    buffer.append(Buffer.from('a'));
    buffer.append(Buffer.from('b'));
    expect(held().buffer.byteLength).toBe(held().length);
    expect(held().length).toBeLessThanOrEqual(1024);
    buffer.consume(2);
    expect(held().buffer.byteLength).toBeLessThanOrEqual(1024); // emptied: a small spare buffer at most
    // What is left of a read, compacted while it waits for the rest of its frame.
    buffer.append(Buffer.from('x'.repeat(5000)));
    buffer.consume(4990);
    buffer.compact();
    expect(held().buffer.byteLength).toBe(10);
  });
});

describe('LineReceiver memory', () => {
  it('shares one encoded delimiter between connections (a Buffer.from per connection keeps a pool slab each)', () => {
    const a = new LineReceiver();
    const b = new LineReceiver();
    const bytesOf = (p: LineReceiver) => {
      let sent: Buffer | undefined;
      p.transport = { writeSequence: (chunks: Buffer[]) => (sent = chunks[1]) } as never;
      p.sendLine('x');
      return sent!;
    };
    const da = bytesOf(a);
    expect(da).toBe(bytesOf(b));
    expect(da.toString()).toBe('\r\n');
    expect(da.buffer.byteLength).toBe(2);
  });

  it('copies a Buffer delimiter into its own allocation (the caller may change theirs)', () => {
    const mine = Buffer.from('|');
    const p = new LineReceiver();
    p.delimiter = mine;
    let sent: Buffer | undefined;
    p.transport = { writeSequence: (chunks: Buffer[]) => (sent = chunks[1]) } as never;
    p.sendLine('x');
    mine[0] = 0x21;
    expect(sent!.toString()).toBe('|');
    expect(sent!.buffer.byteLength).toBe(1);
  });

  it('a connection waiting for the rest of a line keeps that line\'s bytes, not the read they came in', () => {
    const lines: string[] = [];
    const protocol = new (class extends LineReceiver {
      override lineReceived(line: Buffer): void {
        lines.push(line.toString());
      }
    })();
    const h = connectProtocol(protocol);
    // One 64 KiB read of whole lines and the start of one more, as a socket read delivers it.
    const read = Buffer.from(`${'x'.repeat(99)}\r\n`.repeat(655) + 'partial');
    h.receive(read);
    expect(lines).toHaveLength(655);
    const held = (protocol as unknown as { received: { buf: Buffer } }).received.buf;
    expect(held.toString()).toBe('partial');
    expect(held.buffer.byteLength).toBe('partial'.length);
    h.receive('\r\n');
    expect(lines.at(-1)).toBe('partial');
  });
});

