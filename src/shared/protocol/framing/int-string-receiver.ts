import { LengthLimitExceededError, StringTooLongError } from '../errors.js';
import { BufferedReceiver } from './buffered-receiver.js';

/**
 * A protocol of length-prefixed strings: each frame is an unsigned big-endian
 * length of `prefixLength` bytes, then that many bytes. Twisted's
 * `IntNStringReceiver`; use {@link Int8StringReceiver},
 * {@link Int16StringReceiver} or {@link Int32StringReceiver}.
 *
 * A frame announcing more than `maxLength` bytes goes to
 * `lengthLimitExceeded`, which by default closes the connection with
 * `LengthLimitExceededError` (`SKEIN_ERR_LENGTH_LIMIT_EXCEEDED`), before any
 * of its body is buffered.
 */
export abstract class IntNStringReceiver extends BufferedReceiver {
  /** Bytes of the length prefix (1, 2 or 4). */
  abstract readonly prefixLength: 1 | 2 | 4;
  /** Largest frame body accepted, in bytes (Twisted's `MAX_LENGTH`). */
  maxLength = 99999;


  /** Called with the body of each complete frame. It may share memory with received data: copy it to keep it. */
  stringReceived(_data: Buffer): void {}

  /**
   * Called when a frame announces `length` bytes, more than `maxLength`. The
   * receive buffer has been emptied. The default closes the connection with
   * `LengthLimitExceededError`.
   */
  lengthLimitExceeded(length: number): void {
    this.closeWithError(new LengthLimitExceededError(`frame of ${length} bytes exceeds maxLength ${this.maxLength}`));
  }

  /**
   * Writes `data` as one frame (prefix and body in one gathered write).
   * @throws StringTooLongError when `data` is too long for the prefix.
   */
  sendString(data: Buffer | string): void {
    const body = typeof data === 'string' ? Buffer.from(data) : data;
    const limit = 2 ** (8 * this.prefixLength);
    if (body.length >= limit) {
      throw new StringTooLongError(`cannot send ${body.length} bytes with a ${this.prefixLength}-byte length prefix (limit ${limit - 1})`);
    }
    const prefix = Buffer.allocUnsafe(this.prefixLength);
    prefix.writeUIntBE(body.length, 0, this.prefixLength);
    this.transport.writeSequence([prefix, body]);
  }


  protected override parseFrames(): void {
    const buffer = this.received;
    const prefix = this.prefixLength;
    while (buffer.length >= prefix && !this.transport.disconnecting) {
      const view = buffer.view();
      const length = view.readUIntBE(0, prefix);
      if (length > this.maxLength) {
        buffer.clear();
        this.lengthLimitExceeded(length);
        return;
      }
      if (view.length < prefix + length) {
        buffer.reserve(prefix + length);
        return;
      }
      if (!this.mayDeliverFrame()) return;
      buffer.consume(prefix + length);
      this.frameReceived();
      this.stringReceived(view.subarray(prefix, prefix + length));
    }
  }
}

/** Strings with a 1-byte length prefix (up to 255 bytes). Twisted's `Int8StringReceiver`. */
export class Int8StringReceiver extends IntNStringReceiver {
  readonly prefixLength = 1;
}

/** Strings with a 2-byte big-endian length prefix (up to 65535 bytes). Twisted's `Int16StringReceiver`. */
export class Int16StringReceiver extends IntNStringReceiver {
  readonly prefixLength = 2;
}

/** Strings with a 4-byte big-endian length prefix. Twisted's `Int32StringReceiver`. */
export class Int32StringReceiver extends IntNStringReceiver {
  readonly prefixLength = 4;
}
