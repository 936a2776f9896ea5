/**
 * An incremental WebSocket frame parser (RFC 6455 §5). It reads chunks of any
 * size, checks every rule a frame header can break before it buffers a byte
 * of payload, unmasks in place, and hands each complete frame to its sink.
 * Message sequencing is checked here too (a continuation needs a message in
 * progress, a new message needs the last one finished), and so is the size
 * budget: a data frame that would take its message past `maxMessageBytes` is
 * refused from its header (1009), so a peer cannot make it buffer more.
 *
 * It never throws on input: a broken rule ends in one `fail` and the parser
 * stops. Memory: at most one frame's payload (≤ `maxMessageBytes`) plus a
 * 14-byte header; with `streamData`, a control frame's (≤ 125 bytes).
 */
import { WebSocketMessageTooBigError, WebSocketProtocolError, type SkeinError } from '../../shared/protocol/errors.js';
import { applyMask, MAX_CONTROL_PAYLOAD, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PONG } from './frame.js';

/** Where parsed frames go. */
export interface FrameSink {
  /**
   * One whole frame, unmasked. `opcode` is 0 for a continuation. The payload
   * may be a view of the chunk passed to `push`.
   */
  frame(opcode: number, fin: boolean, rsv1: boolean, payload: Buffer): void;
  /**
   * With `streamData`: a piece of a data frame's payload, unmasked, as it arrived (a view of the chunk
   * passed to `push`); `frameEnd` on the frame's last piece (an empty frame is one empty piece).
   * `opcode`, `fin` and `rsv1` are the frame's.
   */
  framePiece?(opcode: number, fin: boolean, rsv1: boolean, piece: Buffer, frameEnd: boolean): void;
  /** The input broke a rule; called once, and the parser has stopped. */
  fail(error: SkeinError): void;
}

/** How a parser reads frames. */
export interface FrameParserOptions {
  /** Bytes of payload one message may have on the wire (its data frames together). */
  readonly maxMessageBytes: number;
  /** True on the server: frames from a client must be masked; false on a client: they must not be. */
  readonly expectMasked: boolean;
  /** True when permessage-deflate was negotiated: RSV1 may mark a message's first frame. */
  readonly rsv1Allowed: boolean;
  /** Hand data frames' payloads to `framePiece` as they arrive instead of buffering each frame (control frames stay whole). */
  readonly streamData?: boolean;
}

const EMPTY = Buffer.alloc(0);
const S_HEAD: number = 0;
const S_PAYLOAD: number = 1;
const S_STOPPED: number = 2;

export class FrameParser {
  private state: number = S_HEAD;
  /** A header that arrived in pieces (made the first time one does: most never need it). */
  private head: Buffer | undefined;
  private headLength = 0;
  // The frame being read.
  private opcode = 0;
  private fin = false;
  private rsv1 = false;
  private masked = false;
  /** The masking key as a big-endian 32-bit number (no buffer per connection). */
  private mask = 0;
  private maskPhase = 0;
  private remaining = 0;
  private pieces: Buffer[] = [];
  private piecesLength = 0;
  // The message being read.
  private inMessage = false;
  private messageBytes = 0;

  constructor(
    private readonly sink: FrameSink,
    private readonly options: FrameParserOptions,
  ) {}

  /** True once the parser stopped (a rule was broken, or `stop` was called). */
  get stopped(): boolean {
    return this.state === S_STOPPED;
  }

  /** Bytes held for a frame not complete yet. */
  get buffered(): number {
    return this.headLength + this.piecesLength;
  }

  /** Stops for good: later input is ignored and held bytes are released. */
  stop(): void {
    this.state = S_STOPPED;
    this.pieces = [];
    this.piecesLength = 0;
  }

  /** Feeds bytes. Frames are delivered as they complete; the sink may `stop` the parser between them. */
  push(chunk: Buffer): void {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      if (this.state === S_HEAD) {
        pos = this.readHead(chunk, pos);
        // A frame with an empty payload is complete with its header.
        if (this.state === S_PAYLOAD && this.remaining === 0) this.deliver(EMPTY);
      } else if (this.state === S_PAYLOAD) {
        pos = this.readPayload(chunk, pos);
      } else {
        return;
      }
    }
  }

  /** Reads a header from `chunk[pos..]`, whole from the chunk when it is there, else in pieces. */
  private readHead(chunk: Buffer, pos: number): number {
    const available = chunk.length - pos;
    if (this.headLength === 0 && available >= 2) {
      const size = headSize(chunk[pos + 1]!);
      if (available >= size) {
        this.parseHead(chunk, pos);
        return pos + size;
      }
    }
    // Collect the header byte by byte (it is at most 14 bytes).
    const head = (this.head ??= Buffer.allocUnsafe(14));
    while (pos < chunk.length) {
      head[this.headLength++] = chunk[pos++]!;
      if (this.headLength >= 2 && this.headLength === headSize(head[1]!)) {
        this.headLength = 0;
        this.parseHead(head, 0);
        return pos;
      }
    }
    return pos;
  }

  private parseHead(buf: Buffer, at: number): void {
    const b0 = buf[at]!;
    const b1 = buf[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let maskAt = at + 2;
    if (length === 126) {
      length = buf.readUInt16BE(at + 2);
      maskAt = at + 4;
    } else if (length === 127) {
      const hi = buf.readUInt32BE(at + 2);
      const lo = buf.readUInt32BE(at + 6);
      maskAt = at + 10;
      if (hi >= 0x80000000) return this.failWith(new WebSocketProtocolError('frame length has its most significant bit set'));
      // Beyond 2^53 bytes no limit could allow it anyway.
      length = hi > 0x1fffff ? Number.MAX_SAFE_INTEGER : hi * 0x100000000 + lo;
    }
    if ((b0 & 0x30) !== 0) return this.failWith(new WebSocketProtocolError('reserved bits RSV2/RSV3 are set'));
    if (masked !== this.options.expectMasked) {
      return this.failWith(new WebSocketProtocolError(masked ? 'a server frame must not be masked' : 'a client frame must be masked'));
    }
    if (opcode >= OP_CLOSE) {
      if (opcode > OP_PONG) return this.failWith(new WebSocketProtocolError(`unknown opcode 0x${opcode.toString(16)}`));
      if (!fin) return this.failWith(new WebSocketProtocolError('a control frame must not be fragmented'));
      if (length > MAX_CONTROL_PAYLOAD) return this.failWith(new WebSocketProtocolError(`a control frame carries at most 125 bytes (got ${length})`));
      if (rsv1) return this.failWith(new WebSocketProtocolError('RSV1 is set on a control frame'));
    } else {
      if (opcode > OP_BINARY) return this.failWith(new WebSocketProtocolError(`unknown opcode 0x${opcode.toString(16)}`));
      if (opcode === OP_CONTINUATION) {
        if (!this.inMessage) return this.failWith(new WebSocketProtocolError('a continuation frame without a message to continue'));
        if (rsv1) return this.failWith(new WebSocketProtocolError('RSV1 is set on a continuation frame'));
      } else {
        if (this.inMessage) return this.failWith(new WebSocketProtocolError('a new message started before the last one ended'));
        if (rsv1 && !this.options.rsv1Allowed) return this.failWith(new WebSocketProtocolError('RSV1 is set but no extension was negotiated'));
      }
      if (this.messageBytes + length > this.options.maxMessageBytes) {
        return this.failWith(new WebSocketMessageTooBigError(`message exceeds maxMessageBytes (${this.options.maxMessageBytes})`));
      }
      this.messageBytes += length;
      this.inMessage = !fin;
    }
    this.opcode = opcode;
    this.fin = fin;
    this.rsv1 = rsv1;
    this.masked = masked;
    if (masked) this.mask = buf.readUInt32BE(maskAt);
    this.maskPhase = 0;
    this.remaining = length;
    this.state = S_PAYLOAD;
  }

  private readPayload(chunk: Buffer, pos: number): number {
    const take = Math.min(this.remaining, chunk.length - pos);
    const end = pos + take;
    if (this.masked) this.maskPhase = applyMask(chunk, pos, end, this.mask, this.maskPhase);
    this.remaining -= take;
    if (this.options.streamData && this.opcode < OP_CLOSE) {
      if (this.remaining === 0) this.deliver(chunk.subarray(pos, end));
      else this.sink.framePiece!(this.opcode, this.fin, this.rsv1, chunk.subarray(pos, end), false);
      return end;
    }
    if (this.remaining === 0 && this.piecesLength === 0) {
      // The common case: the whole payload is in this chunk. No copy.
      this.deliver(chunk.subarray(pos, end));
      return end;
    }
    this.pieces.push(chunk.subarray(pos, end));
    this.piecesLength += take;
    if (this.remaining === 0) {
      const payload = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.piecesLength);
      this.pieces = [];
      this.piecesLength = 0;
      this.deliver(payload);
    }
    return end;
  }

  private deliver(payload: Buffer): void {
    this.state = S_HEAD;
    const opcode = this.opcode;
    if (opcode < OP_CLOSE && this.fin) this.messageBytes = 0;
    if (opcode < OP_CLOSE && this.options.streamData) this.sink.framePiece!(opcode, this.fin, this.rsv1, payload, true);
    else this.sink.frame(opcode, this.fin, this.rsv1, payload);
  }

  private failWith(error: SkeinError): void {
    this.stop();
    this.sink.fail(error);
  }
}

/** The size of a header from its second byte (length form and mask bit). */
function headSize(b1: number): number {
  const len7 = b1 & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
}

