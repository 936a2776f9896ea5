import { afterEach, describe, expect, it, vi } from 'vitest';
import { Int32StringReceiver } from '../../src/shared/protocol/framing/int-string-receiver.js';
import { LineReceiver } from '../../src/shared/protocol/framing/line-receiver.js';
import { NetstringReceiver } from '../../src/shared/protocol/framing/netstring-receiver.js';
import { StringTransport } from '../../src/testing.js';

const TEN_MB = 10 * 1024 * 1024;
/** One immutable 1-byte buffer per byte value: feeding 10 M chunks allocates nothing per chunk. */
const ONE_BYTE = Array.from({ length: 256 }, (_, b) => Buffer.from([b]));

/**
 * Feeds `stream` one byte at a time and counts the buffers allocated meanwhile.
 * A parser that re-concatenates its buffer per chunk allocates once per byte
 * (and copies quadratically: 10 MB would take hours); a linear one allocates
 * O(frames + log n) buffers. No timing is asserted: the test timeout is the
 * generous bound, the allocation count the precise one.
 */
function feedByteByByte(protocol: { makeConnection(t: StringTransport): unknown; dataReceived(b: Buffer): unknown }, stream: Buffer): number {
  protocol.makeConnection(new StringTransport());
  const allocUnsafe = vi.spyOn(Buffer, 'allocUnsafe');
  const concat = vi.spyOn(Buffer, 'concat');
  for (let i = 0; i < stream.length; i++) protocol.dataReceived(ONE_BYTE[stream[i]!]!);
  return allocUnsafe.mock.calls.length + concat.mock.calls.length;
}

describe('framing receivers parse a 10 MB stream of 1-byte chunks in linear time', () => {
  afterEach(() => vi.restoreAllMocks());

  it('LineReceiver: 10 MB of 1000-byte lines', () => {
    let lines = 0;
    let bytes = 0;
    const p = new (class extends LineReceiver {
      override lineReceived(line: Buffer): void {
        lines++;
        bytes += line.length;
      }
    })();
    const line = Buffer.concat([Buffer.alloc(998, 'x'), Buffer.from('\r\n')]);
    const count = Math.ceil(TEN_MB / line.length);
    const allocations = feedByteByByte(p, Buffer.concat(Array.from({ length: count }, () => line)));
    expect(lines).toBe(count);
    expect(bytes).toBe(count * 998);
    expect(allocations).toBeLessThan(lines / 2); // one per few lines (a 4 KiB buffer refilled), never one per byte
  }, 60_000);

  it('Int32StringReceiver: one 10 MB frame', () => {
    let received = 0;
    const p = new (class extends Int32StringReceiver {
      override maxLength = TEN_MB;
      override stringReceived(data: Buffer): void {
        received = data.length;
      }
    })();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(TEN_MB - 4);
    const stream = Buffer.concat([header, Buffer.alloc(TEN_MB - 4, 7)]);
    const allocations = feedByteByByte(p, stream);
    expect(received).toBe(TEN_MB - 4);
    expect(allocations).toBeLessThan(64); // doubling growth: about log2(10 MB / 1 MiB) + a few
  }, 60_000);

  it('NetstringReceiver: ten 1 MB netstrings', () => {
    let strings = 0;
    const p = new (class extends NetstringReceiver {
      override maxLength = 1024 * 1024;
      override stringReceived(): void {
        strings++;
      }
    })();
    const one = Buffer.concat([Buffer.from(`${1024 * 1024 - 10}:`), Buffer.alloc(1024 * 1024 - 10, 1), Buffer.from(',')]);
    const allocations = feedByteByByte(p, Buffer.concat(Array.from({ length: 10 }, () => one)));
    expect(strings).toBe(10);
    expect(allocations).toBeLessThan(200);
  }, 60_000);
});
