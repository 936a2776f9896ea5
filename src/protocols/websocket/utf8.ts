/**
 * UTF-8 validation for WebSocket text (RFC 6455 §8.1), whole or streamed.
 * A whole message is checked by node's native `buffer.isUtf8`. A message that
 * arrives in fragments is checked piece by piece: complete code points with
 * `isUtf8`, and the few bytes of a code point cut by a fragment boundary are
 * carried to the next piece and checked as far as they go, so invalid text
 * fails at the fragment where it becomes invalid, not at the end.
 */
import { isUtf8 } from 'node:buffer';

export { isUtf8 };

/** Bytes of the sequence a lead byte starts (1 for ASCII and for bytes that cannot lead one). */
function sequenceLength(lead: number): number {
  if (lead < 0xc0) return 1;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  return 4;
}

/** True when `bytes[0..n)` can still begin a valid code point (Unicode Table 3-7). */
function validPrefix(bytes: Buffer, n: number): boolean {
  const lead = bytes[0]!;
  if (lead < 0xc2 || lead > 0xf4) return false;
  if (n < 2) return true;
  const b1 = bytes[1]!;
  let lo = 0x80;
  let hi = 0xbf;
  if (lead === 0xe0) lo = 0xa0;
  else if (lead === 0xed) hi = 0x9f;
  else if (lead === 0xf0) lo = 0x90;
  else if (lead === 0xf4) hi = 0x8f;
  if (b1 < lo || b1 > hi) return false;
  if (n < 3) return true;
  return (bytes[2]! & 0xc0) === 0x80;
}

/** Validates a text message that arrives in pieces. */
export class Utf8Stream {
  private readonly carry = Buffer.alloc(4);
  private carried = 0;
  private need = 0;

  /** Checks the next piece; false as soon as the text so far cannot be valid UTF-8. */
  push(piece: Buffer): boolean {
    let start = 0;
    const len = piece.length;
    if (this.carried > 0) {
      while (this.carried < this.need && start < len) this.carry[this.carried++] = piece[start++]!;
      if (this.carried < this.need) return validPrefix(this.carry, this.carried);
      if (!isUtf8(this.carry.subarray(0, this.need))) return false;
      this.carried = 0;
      this.need = 0;
    }
    if (start >= len) return true;
    // Find a code point cut by the end of this piece: its lead byte is among the last 3 bytes.
    let i = len - 1;
    while (i > start && i > len - 4 && (piece[i]! & 0xc0) === 0x80) i--;
    let end = len;
    const n = sequenceLength(piece[i]!);
    if (n > 1 && i + n > len) end = i;
    if (end > start && !isUtf8(start === 0 && end === len ? piece : piece.subarray(start, end))) return false;
    if (end < len) {
      piece.copy(this.carry, 0, end, len);
      this.carried = len - end;
      this.need = n;
      return validPrefix(this.carry, this.carried);
    }
    return true;
  }

  /** The text ended: false when it stops inside a code point. Resets for the next message. */
  end(): boolean {
    const complete = this.carried === 0;
    this.carried = 0;
    this.need = 0;
    return complete;
  }
}
