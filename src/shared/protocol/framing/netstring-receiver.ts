import { LengthLimitExceededError, NetstringParseError } from '../errors.js';
import { BufferedReceiver } from './buffered-receiver.js';

const COLON = 0x3a;
const COMMA = 0x2c;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * A protocol of netstrings (`<decimal length>:<bytes>,`, see
 * https://cr.yp.to/proto/netstrings.txt). Twisted's `NetstringReceiver`.
 *
 * A malformed netstring (a length that is not a decimal number, a leading
 * zero, a missing comma) closes the connection with `NetstringParseError`
 * (`SKEIN_ERR_NETSTRING_PARSE`). A length over `maxLength` goes to
 * `lengthLimitExceeded`, which by default closes it with
 * `LengthLimitExceededError` (`SKEIN_ERR_LENGTH_LIMIT_EXCEEDED`), like every
 * other framing limit. Both are counted in `skein_protocol_errors_total`.
 */
export class NetstringReceiver extends BufferedReceiver {
  /** Largest netstring body accepted, in bytes (Twisted's `MAX_LENGTH`). */
  maxLength = 99999;


  /** Called with the body of each complete netstring. It may share memory with received data: copy it to keep it. */
  stringReceived(_data: Buffer): void {}

  /**
   * Called when a netstring announces more than `maxLength` bytes (`length` is
   * what was announced, or the digits read so far). The default closes the
   * connection with `LengthLimitExceededError`.
   */
  lengthLimitExceeded(length: number): void {
    this.closeWithError(new LengthLimitExceededError(`netstring of ${length}+ bytes exceeds maxLength ${this.maxLength}`));
  }

  /** Called with what is wrong when the peer sends a malformed netstring. The default closes with `NetstringParseError`. */
  netstringParseError(reason: string): void {
    this.closeWithError(new NetstringParseError(`malformed netstring: ${reason}`));
  }

  /** Writes `data` as one netstring, in one gathered write. */
  sendString(data: Buffer | string): void {
    const body = typeof data === 'string' ? Buffer.from(data) : data;
    this.transport.writeSequence([`${body.length}:`, body, ',']);
  }


  protected override parseFrames(): void {
    const buffer = this.received;
    while (buffer.length > 0 && !this.transport.disconnecting) {
      const view = buffer.view();
      const maxDigits = String(this.maxLength).length;
      // Read the length: only digits, up to one more than maxLength can need.
      let i = 0;
      let length = 0;
      while (i < view.length && i <= maxDigits && view[i]! >= ZERO && view[i]! <= NINE) {
        length = length * 10 + view[i]! - ZERO;
        i++;
      }
      if (i > 1 && view[0] === ZERO) return this.#malformed('length has a leading zero');
      if (i > maxDigits) return this.#tooLong(length);
      if (i === view.length) return; // more digits (or the colon) may follow
      if (view[i] !== COLON) return this.#malformed(i === 0 ? 'length is not a decimal number' : "no ':' after the length");
      if (length > this.maxLength) return this.#tooLong(length);
      const bodyStart = i + 1;
      const total = bodyStart + length + 1;
      if (view.length < total) {
        buffer.reserve(total);
        return;
      }
      if (view[total - 1] !== COMMA) return this.#malformed("no ',' after the body");
      if (!this.mayDeliverFrame()) return;
      buffer.consume(total);
      this.frameReceived();
      this.stringReceived(view.subarray(bodyStart, bodyStart + length));
    }
  }

  #malformed(reason: string): void {
    this.received.clear();
    this.netstringParseError(reason);
  }

  #tooLong(length: number): void {
    this.received.clear();
    this.lengthLimitExceeded(length);
  }
}
