import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReceiveBuffer } from '../../src/shared/protocol/framing/receive-buffer.js';
import { LineReceiver } from '../../src/shared/protocol/framing/line-receiver.js';
import { connectProtocol } from '../../src/testing.js';

describe('ReceiveBuffer', () => {
  it('keeps every handed-out view intact while more bytes arrive (no byte is rewritten in place)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 700 }), fc.nat(800)), { maxLength: 40 }), (steps) => {
        const buffer = new ReceiveBuffer();
        const stream: number[] = [];
        const taken: Array<{ view: Buffer; bytes: number[] }> = [];
        let consumed = 0;
        for (const [chunk, take] of steps) {
          buffer.append(Buffer.from(chunk));
          stream.push(...chunk);
          const n = Math.min(take, buffer.length);
          const view = buffer.view().subarray(0, n);
          taken.push({ view, bytes: stream.slice(consumed, consumed + n) });
          buffer.consume(n);
          consumed += n;
        }
        for (const t of taken) expect([...t.view]).toEqual(t.bytes);
        expect([...buffer.view()]).toEqual(stream.slice(consumed));
      }),
      { numRuns: 200 },
    );
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
});
