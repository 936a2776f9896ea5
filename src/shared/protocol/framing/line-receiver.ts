import { LineTooLongError } from '../errors.js';
import { BufferedReceiver } from './buffered-receiver.js';
import type { ReceiveBuffer } from './receive-buffer.js';
import type { Factory, ProtocolFactory } from '../factory.js';

const CR = 0x0d;
const LF = 0x0a;
const NO_BYTES = Buffer.alloc(0);
/** Delimiter texts seen, each encoded once for every connection (a handful per process). */
const DELIMITERS = new Map<string, Buffer>();
const MAX_DELIMITERS = 64;

/**
 * The bytes of `delimiter`: for a string, one encoding shared by every
 * connection that uses it; for a Buffer, a copy (the caller may change theirs).
 * Never a `Buffer.from` slice of node's 8 KiB allocation pool: a slice kept
 * for the connection's life keeps its whole slab, 8 KiB per idle connection.
 * They are only ever written out, never changed.
 */
function delimiterBytes(delimiter: Buffer | string): Buffer {
  if (typeof delimiter !== 'string') {
    const copy = Buffer.allocUnsafeSlow(delimiter.length);
    delimiter.copy(copy);
    return copy;
  }
  let bytes = DELIMITERS.get(delimiter);
  if (bytes === undefined) {
    const encoded = Buffer.from(delimiter);
    // Its own allocation, not a pool slice: past the cache it is kept per connection.
    bytes = Buffer.allocUnsafeSlow(encoded.length);
    encoded.copy(bytes);
    if (DELIMITERS.size < MAX_DELIMITERS) DELIMITERS.set(delimiter, bytes);
  }
  return bytes;
}

/**
 * A protocol that receives lines and/or raw data, depending on its mode.
 * Twisted's `LineReceiver`.
 *
 * In line mode, each line (without its delimiter) goes to `lineReceived`. A
 * line longer than `maxLength` goes to `lineLengthExceeded`, which by default
 * closes the connection with `LineTooLongError` (`SKEIN_ERR_LINE_TOO_LONG`,
 * counted in `skein_protocol_errors_total`). In raw mode, bytes go to
 * `rawDataReceived` as they come. Chunk boundaries never matter: a line split
 * over many chunks, or many lines in one chunk, give the same calls.
 *
 * ```ts
 * class Shout extends LineReceiver {
 *   override lineReceived(line: Buffer): void {
 *     this.sendLine(line.toString().toUpperCase());
 *   }
 * }
 * ```
 */
export class LineReceiver<F extends ProtocolFactory = Factory> extends BufferedReceiver<F> {
  /** What ends a line, in both directions. */
  delimiter: Buffer | string = '\r\n';
  /** Longest line accepted, in bytes without the delimiter (Twisted's `MAX_LENGTH`). */
  maxLength = 16384;
  /**
   * With the `\r\n` delimiter, also end a line at a bare `\n`, as Netty's
   * `LineBasedFrameDecoder` does; the line never includes the `\r`. For
   * peers that send either ending. `sendLine` still writes `\r\n`. Set it
   * before data arrives (in the subclass), not in the middle of a stream.
   */
  acceptBareLF = false;

  #lineMode = true;
  /** Bytes at the start of the buffer already known to hold no delimiter. */
  #scanned = 0;
  #delimiterSource: Buffer | string | undefined;
  #delimiterBytes: Buffer = NO_BYTES;

  /** True in line mode (the default), false in raw mode. */
  get inLineMode(): boolean {
    return this.#lineMode;
  }

  /**
   * Called with each complete line, without its delimiter. The buffer may
   * share memory with received data: copy it to keep it beyond the call.
   */
  lineReceived(_line: Buffer): void {}

  /** Called with raw bytes while in raw mode (after `setRawMode`). */
  rawDataReceived(_data: Buffer): void {}

  /**
   * Called when a line (or the unterminated data so far) is longer than
   * `maxLength`; `line` holds what was buffered, and the buffer is emptied.
   * The default closes the connection with `LineTooLongError`; override to
   * answer the peer first, or to skip the line and carry on.
   */
  lineLengthExceeded(line: Buffer): void {
    this.closeWithError(new LineTooLongError(`line of ${line.length}+ bytes exceeds maxLength ${this.maxLength}`));
  }

  /** Writes `line` followed by the delimiter, in one gathered write. */
  sendLine(line: Buffer | string): void {
    this.transport.writeSequence([line, this.#delimiterBuffer()]);
  }

  /**
   * Switches to raw mode: buffered and future bytes go to `rawDataReceived`.
   * May be called from `lineReceived`; the rest of the chunk is then raw.
   */
  setRawMode(): void {
    this.#lineMode = false;
  }

  /**
   * Switches back to line mode. `extra` (bytes received in raw mode that belong
   * to the line stream) is parsed as lines, before anything not yet parsed.
   */
  setLineMode(extra?: Buffer | string): void {
    this.#lineMode = true;
    this.#scanned = 0;
    if (extra !== undefined && extra.length > 0) this.dataReceived(typeof extra === 'string' ? Buffer.from(extra) : extra);
  }

  /** Unparsed bytes (a partial line, or data queued while switching modes). */
  clearLineBuffer(): Buffer {
    this.#scanned = 0;
    return Buffer.from(this.received.takeAll());
  }


  protected override parseFrames(): void {
    const buffer = this.received;
    while (buffer.length > 0 && !this.transport.disconnecting) {
      if (!this.#lineMode) {
        this.rawDataReceived(buffer.takeAll());
        continue;
      }
      if (!this.#deliverLines(buffer)) return;
    }
  }

  /**
   * Delivers the complete lines in the buffer, scanning one view of it. Returns
   * true when a callback changed what the scan relies on (the buffer, the mode,
   * the delimiter) so the caller must look again; false when no complete line is left.
   */
  #deliverLines(buffer: ReceiveBuffer): boolean {
    const delimiter = this.#delimiterBuffer();
    const bareLF = this.acceptBareLF && delimiter.length === 2 && delimiter[0] === CR && delimiter[1] === LF;
    const needle = bareLF ? LF : delimiter;
    const needleLength = bareLF ? 1 : delimiter.length;
    const view = buffer.view();
    let start = 0;
    for (;;) {
      const at = view.indexOf(needle, start + this.#scanned);
      if (at < 0) {
        const rest = view.length - start;
        // A delimiter may straddle this chunk and the next: rescan its first bytes then.
        this.#scanned = Math.max(0, rest - needleLength + 1);
        if (rest >= this.maxLength + delimiter.length) this.#exceeded(buffer.takeAll());
        return false;
      }
      this.#scanned = 0;
      const end = bareLF && at > start && view[at - 1] === CR ? at - 1 : at;
      if (end - start > this.maxLength) {
        this.#exceeded(buffer.takeAll());
        return false;
      }
      // The buffer starts at `start` here: a frame that must wait stays in it, whole.
      if (!this.mayDeliverFrame()) return false;
      const next = at + needleLength;
      buffer.consume(next - start);
      this.frameReceived();
      this.lineReceived(view.subarray(start, end));
      start = next;
      if (buffer.length !== view.length - start || !this.#lineMode || this.transport.disconnecting || this.delimiter !== this.#delimiterSource) {
        return true;
      }
    }
  }

  #exceeded(line: Buffer): void {
    this.#scanned = 0;
    this.lineLengthExceeded(line);
  }

  #delimiterBuffer(): Buffer {
    if (this.#delimiterSource !== this.delimiter) {
      this.#delimiterSource = this.delimiter;
      this.#delimiterBytes = delimiterBytes(this.delimiter);
      this.#scanned = 0;
      if (this.#delimiterBytes.length === 0) throw new TypeError('LineReceiver.delimiter must not be empty');
    }
    return this.#delimiterBytes;
  }
}
