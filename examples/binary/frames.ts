/**
 * A custom binary protocol with its own framing, written on the bare `Protocol`:
 * every message is a frame of
 *
 *   type (1 byte) | payload length (2 bytes, big-endian) | payload
 *
 * `FrameReceiver` turns the byte stream into `messageReceived(type, payload)`
 * calls however the bytes are split into chunks, and bounds what it buffers
 * (`maxLength`). For a plain length prefix, `Int32StringReceiver` and its siblings
 * do this for you; write your own when the header carries more than a length.
 */
import { Protocol, SkeinError } from 'skein';

/** Bytes before the payload. */
export const HEADER_SIZE = 3;

/** A frame announced a payload longer than the receiver's `maxLength`. */
export class FrameTooLongError extends SkeinError {
  constructor(readonly length: number, max: number) {
    super('APP_ERR_FRAME_TOO_LONG', `frame payload of ${length} bytes exceeds ${max}`);
  }
}

/** Encodes one frame. */
export function encodeFrame(type: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  if (payload.length > 0xffff) throw new RangeError(`payload of ${payload.length} bytes does not fit a 2-byte length`);
  const header = Buffer.allocUnsafe(HEADER_SIZE);
  header.writeUInt8(type, 0);
  header.writeUInt16BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

export class FrameReceiver extends Protocol {
  /** Largest payload accepted (at most 65535, what 2 bytes can say); a longer one closes the connection. */
  maxLength = 4096;
  private pending: Buffer = Buffer.alloc(0);

  override dataReceived(data: Buffer): void {
    // Joining chunks costs a copy per chunk of a partial frame: fine for frames of a few KiB.
    let buffer = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    let offset = 0;
    while (this.connected && buffer.length - offset >= HEADER_SIZE) {
      const type = buffer.readUInt8(offset);
      const length = buffer.readUInt16BE(offset + 1);
      if (length > this.maxLength) return this.closeWithError(new FrameTooLongError(length, this.maxLength));
      if (buffer.length - offset < HEADER_SIZE + length) break;
      const payload = buffer.subarray(offset + HEADER_SIZE, offset + HEADER_SIZE + length);
      offset += HEADER_SIZE + length;
      this.frameReceived(); // counts the message in skein_messages_total and times its reply
      this.messageReceived(type, payload);
    }
    buffer = buffer.subarray(offset);
    // Keep a copy of a partial frame, not a view that would pin the whole chunk.
    this.pending = buffer.length === 0 ? Buffer.alloc(0) : Buffer.from(buffer);
  }

  /** Called once per complete frame. `payload` is valid only during the call: copy it to keep it. */
  messageReceived(_type: number, _payload: Buffer): void {}

  /** Sends one frame in one write. */
  sendMessage(type: number, payload?: Uint8Array): void {
    this.transport.write(encodeFrame(type, payload));
  }
}
