/**
 * One open WebSocket: frames in, messages out, the closing handshake, pings.
 * The protocol object the author writes ({@link WebSocketProtocol}) holds
 * only hooks and the sending API; everything the RFC requires happens here,
 * where an author's override cannot skip it.
 *
 * Closing (RFC 6455 §7): when the peer sends Close, it is answered with the
 * same code and the TCP connection is closed (the server closes first). When
 * we close, we send Close, stop sending, and wait up to `closeTimeout` for the
 * peer's Close. When the peer breaks the protocol, we send Close with the
 * error's code (1002, 1007, 1009), stop reading, and close; the close timer
 * also bounds how long a peer that never reads can hold that socket.
 */
import { asBuffer } from '../../shared/protocol/bytes.js';
import type { DelayedCall } from '../../shared/protocol/clock.js';
import type { Sweep } from '../../shared/protocol/sweep.js';
import {
  InvalidStateError,
  WebSocketClosed,
  WebSocketCloseTimeoutError,
  WebSocketInvalidCloseError,
  WebSocketInvalidPayloadError,
  WebSocketPingTimeoutError,
  WebSocketProtocolError,
  type SkeinError,
} from '../../shared/protocol/errors.js';
import { meterOf, releaseProtocol, reportFailure } from '../../shared/protocol/nesting.js';
import type { Protocol } from '../../shared/protocol/protocol.js';
import type { SwitchedConnection } from '../http/switch.js';
import type { PerMessageDeflate } from './deflate.js';
import {
  CLOSE_ABNORMAL,
  CLOSE_GOING_AWAY,
  CLOSE_NO_STATUS,
  closePayload,
  encodeControl,
  encodeFrame,
  encodeTextFrame,
  isSendableCloseCode,
  MAX_CLOSE_REASON,
  MAX_CONTROL_PAYLOAD,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from './frame.js';
import { FrameParser, type FrameSink } from './frame-parser.js';
import type { WebSocketOptions } from './options.js';
import { isUtf8, Utf8Stream } from './utf8.js';

/** What a session calls on its protocol (a {@link WebSocketProtocol}). */
export interface SessionHooks {
  connectionMade(): void | Promise<void>;
  messageReceived(data: Buffer, isBinary: boolean): void | Promise<void>;
  /** True: messages arrive in pieces (`messageStarted`, `messageChunk`, `messageEnded`), not to `messageReceived`. */
  readonly streamMessages: boolean;
  messageStarted(isBinary: boolean): void;
  messageChunk(data: Buffer): void;
  messageEnded(): void | Promise<void>;
  pongReceived(data: Buffer): void;
  connectionLost(reason: WebSocketClosed): void | Promise<void>;
  frameReceived(): void;
  /** The author's drain hook (its default calls the session's `goAway`). */
  drain(): void;
  /** Schedules on the reactor clock. */
  callLater(seconds: number, fn: () => void): DelayedCall;
}

/** How to send one message. */
export interface SendOptions {
  /** Send as a binary message (default: true for bytes, false for a string). */
  readonly binary?: boolean;
  /** Split the message into frames of at most this many payload bytes. */
  readonly fragmentSize?: number;
  /** Compress when permessage-deflate is on and the message reaches its threshold (default true). */
  readonly compress?: boolean;
}

const OPEN = 0;
/** We sent Close and wait for the peer's. */
const CLOSING = 1;
/** Close exchanged, or the connection failed: only the TCP close is left. */
const CLOSED = 2;

const EMPTY = Buffer.alloc(0);

/**
 * The session is also what the outer protocol (the plain endpoint's, or
 * `http`'s after a 101) forwards its events to: one object per connection,
 * no closures.
 */
export class WebSocketSession implements FrameSink, SwitchedConnection {
  private readonly parser: FrameParser;
  private state = OPEN;
  // The message being reassembled (only when it spans frames or is compressed).
  private messageOpcode = 0;
  private compressed = false;
  private fragments: Buffer[] = [];
  private utf8: Utf8Stream | undefined;
  /** Streaming: the frame being read has more pieces to come. */
  private midFrame = false;
  /** The message being sent in pieces, and the opcode of its next frame. */
  private writer: MessageWriter | undefined;
  private writerOpcode = 0;
  // Closing.
  private sentClose = false;
  private receivedCode: number | undefined;
  private receivedReason = '';
  private failure: (SkeinError & { closeCode: number }) | undefined;
  private timedOut: SkeinError | undefined;
  private closeTimer: DelayedCall | undefined;
  // Liveness: a flag per chunk (no clock read per chunk), checked by the service's ping sweep (no timer per connection).
  private heard = false;
  /** Sweep seconds since which the peer has been silent (as far as the sweep saw). */
  private quietSince = 0;
  /** Sweep seconds of the ping sent to a silent peer; -1: none outstanding. */
  private pingedAt = -1;
  // Drain: close 1001 once the messages being handled are done.
  private inFlight = 0;
  private draining = false;
  private lost = false;

  constructor(
    private readonly hooks: SessionHooks & Protocol,
    /** The protocol the reactor drives: its transport, meter and failure reporting are the session's. */
    readonly outer: Protocol,
    private readonly options: WebSocketOptions,
    private readonly deflate: PerMessageDeflate | undefined,
    /** The service's ping sweep (absent when `pingInterval` is 0). */
    private readonly sweep?: Sweep<WebSocketSession>,
  ) {
    this.parser = new FrameParser(this, {
      maxMessageBytes: options.maxMessageBytes,
      expectMasked: true,
      rsv1Allowed: deflate !== undefined,
      streamData: hooks.streamMessages === true,
    });
  }

  /** True while messages may be sent (after open, before Close). */
  get isOpen(): boolean {
    return this.state === OPEN;
  }

  /** Starts the session: counts it, joins the ping sweep, calls `connectionMade`. */
  open(): void {
    meterOf(this.outer)?.sessionOpened();
    if (this.sweep) {
      this.quietSince = this.sweep.now();
      this.sweep.add(this);
    }
    this.settle(this.hooks.connectionMade());
  }

  /** Bytes from the peer. */
  dataReceived(chunk: Buffer): void {
    this.heard = true;
    this.parser.push(chunk);
  }

  // FrameSink

  /** @internal */
  frame(opcode: number, fin: boolean, rsv1: boolean, payload: Buffer): void {
    if (opcode >= OP_CLOSE) return this.control(opcode, payload);
    // After our Close the peer may still send data (RFC 6455 §5.5.1): it is discarded.
    if (this.state !== OPEN) return;
    if (opcode !== OP_CONTINUATION) {
      if (fin && !rsv1) {
        // The common case: a whole message in one frame.
        if (opcode === OP_TEXT && !isUtf8(payload)) return this.fail(new WebSocketInvalidPayloadError('text message is not valid UTF-8'));
        return this.deliver(payload, opcode === OP_BINARY);
      }
      this.messageOpcode = opcode;
      this.compressed = rsv1;
    }
    const text = this.messageOpcode === OP_TEXT;
    if (text && !this.compressed && !(this.utf8 ??= new Utf8Stream()).push(payload)) {
      return this.fail(new WebSocketInvalidPayloadError('text message is not valid UTF-8'));
    }
    this.fragments.push(payload);
    if (!fin) return;
    const pieces = this.fragments;
    this.fragments = [];
    let data: Buffer;
    if (this.compressed) {
      const inflated = this.inflate(pieces, text);
      if (!inflated) return;
      data = inflated;
    } else {
      if (text && !this.utf8!.end()) return this.fail(new WebSocketInvalidPayloadError('text message ends inside a UTF-8 sequence'));
      data = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    }
    this.deliver(data, !text);
  }

  /**
   * @internal Streaming: a piece of a data frame. Uncompressed messages go to the protocol as they
   * arrive (text checked piece by piece); a compressed one is reassembled (up to `maxMessageBytes`),
   * decompressed, and handed over as one piece.
   */
  framePiece(opcode: number, fin: boolean, rsv1: boolean, piece: Buffer, frameEnd: boolean): void {
    if (this.state !== OPEN) return;
    if (!this.midFrame && opcode !== OP_CONTINUATION) {
      this.messageOpcode = opcode;
      this.compressed = rsv1;
      if (!rsv1) this.hooks.messageStarted(opcode === OP_BINARY);
    }
    this.midFrame = !frameEnd;
    const text = this.messageOpcode === OP_TEXT;
    const last = fin && frameEnd;
    if (this.compressed) {
      this.fragments.push(piece);
      if (!last) return;
      const pieces = this.fragments;
      this.fragments = [];
      const data = this.inflate(pieces, text);
      if (!data) return;
      this.hooks.messageStarted(!text);
      if (this.state !== OPEN) return;
      this.hooks.messageChunk(data);
    } else {
      if (text && !(this.utf8 ??= new Utf8Stream()).push(piece)) return this.fail(new WebSocketInvalidPayloadError('text message is not valid UTF-8'));
      if (piece.length > 0) this.hooks.messageChunk(piece);
      if (!last) return;
      if (text && !this.utf8!.end()) return this.fail(new WebSocketInvalidPayloadError('text message ends inside a UTF-8 sequence'));
    }
    if (this.state !== OPEN) return;
    this.hooks.frameReceived();
    this.settle(this.hooks.messageEnded());
  }

  /** @internal */
  fail(error: SkeinError): void {
    this.failWith(error as SkeinError & { closeCode: number });
  }

  // Sending

  /** Sends one message; returns false (and sends nothing) once the session is closing. */
  send(data: Buffer | Uint8Array | string, options: SendOptions = {}): boolean {
    if (this.state !== OPEN) return false;
    if (this.writer) throw new InvalidStateError('a message is being sent in pieces: end it before sending another');
    const isString = typeof data === 'string';
    const opcode = (options.binary ?? !isString) ? OP_BINARY : OP_TEXT;
    const transport = this.outer.transport;
    let payload: Buffer | string = isString ? data : asBuffer(data);
    let rsv1 = false;
    const deflate = this.deflate;
    if (deflate && options.compress !== false && (isString ? Buffer.byteLength(payload) : payload.length) >= deflate.threshold) {
      payload = deflate.compress(isString ? Buffer.from(payload) : (payload as Buffer));
      rsv1 = true;
    }
    const size = options.fragmentSize;
    const length = typeof payload === 'string' ? payload.length : payload.length;
    if (size === undefined || length <= size) {
      const frame = typeof payload === 'string' ? encodeTextFrame(opcode, payload) : encodeFrame(opcode, payload, true, rsv1);
      if (Array.isArray(frame)) transport.writeSequence(frame);
      else transport.write(frame);
    } else {
      if (!Number.isSafeInteger(size) || size < 1) throw new TypeError('options.fragmentSize must be a positive integer');
      const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
      const frames: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += size) {
        const end = Math.min(at + size, bytes.length);
        const frame = encodeFrame(at === 0 ? opcode : OP_CONTINUATION, bytes.subarray(at, end), end === bytes.length, at === 0 && rsv1);
        if (Array.isArray(frame)) frames.push(frame[0], frame[1]);
        else frames.push(frame);
      }
      transport.writeSequence(frames);
    }
    meterOf(this.outer)?.sent();
    return true;
  }

  /**
   * Starts a message sent in pieces: each `write` of the returned writer is one frame, `end` sends the
   * last. Not compressed. Pings and Close may go out between its frames; other messages may not.
   * @throws InvalidStateError while another message is being sent in pieces.
   */
  beginMessage(binary: boolean): MessageWriter {
    if (this.writer) throw new InvalidStateError('a message is already being sent in pieces: end it first');
    this.writerOpcode = binary ? OP_BINARY : OP_TEXT;
    return (this.writer = new MessageWriter(this));
  }

  /** @internal One frame of the message `writer` sends; false (nothing sent) once closing or after its end. */
  writePiece(writer: MessageWriter, data: Buffer | Uint8Array | string, fin: boolean): boolean {
    if (this.writer !== writer) return false;
    if (fin) this.writer = undefined;
    if (this.state !== OPEN) return false;
    const payload = typeof data === 'string' ? Buffer.from(data) : asBuffer(data);
    if (payload.length === 0 && !fin) return true;
    const frame = encodeFrame(this.writerOpcode, payload, fin, false);
    this.writerOpcode = OP_CONTINUATION;
    if (Array.isArray(frame)) this.outer.transport.writeSequence(frame);
    else this.outer.transport.write(frame);
    if (fin) meterOf(this.outer)?.sent();
    return true;
  }

  /** Sends a ping (at most 125 bytes of payload); a no-op once closing. */
  ping(data: Buffer | string = EMPTY): void {
    if (this.state !== OPEN) return;
    const payload = typeof data === 'string' ? Buffer.from(data) : data;
    if (payload.length > MAX_CONTROL_PAYLOAD) throw new RangeError('a ping carries at most 125 bytes');
    this.outer.transport.write(encodeControl(OP_PING, payload));
  }

  /**
   * Starts the closing handshake. A no-op once closing.
   * @throws WebSocketInvalidCloseError for a code an endpoint may not send or a reason over 123 bytes.
   */
  close(code?: number, reason = ''): void {
    if (code === undefined && reason !== '') throw new WebSocketInvalidCloseError('a close reason needs a close code');
    if (code !== undefined && !isSendableCloseCode(code)) throw new WebSocketInvalidCloseError(`close code ${code} may not be sent (use 1000, 1001-1003, 1007-1014 or 3000-4999)`);
    if (Buffer.byteLength(reason) > MAX_CLOSE_REASON) throw new WebSocketInvalidCloseError('a close reason is at most 123 bytes of UTF-8');
    if (this.state !== OPEN) return;
    this.state = CLOSING;
    this.sendClose(code, reason);
    this.armCloseTimer();
  }

  /** The server drains (shutdown, reload): the author's drain hook decides (by default {@link goAway}). */
  drain(): void {
    this.hooks.drain();
  }

  /** Closes with 1001 (going away) once the messages being handled are done. */
  goAway(): void {
    this.draining = true;
    if (this.inFlight === 0) this.close(CLOSE_GOING_AWAY, 'server going away');
  }

  /** The peer half-closed without a Close frame: nothing more will come, so close. */
  readConnectionLost(): void {
    this.parser.stop();
    this.outer.transport.loseConnection();
  }

  /** The connection is gone: release everything and tell the protocol how it ended. */
  connectionLost(reason: Error): void | Promise<void> {
    if (this.lost) return;
    try {
      return this.lose(reason);
    } finally {
      releaseProtocol(this.hooks);
    }
  }

  private lose(reason: Error): void | Promise<void> {
    this.lost = true;
    this.state = CLOSED;
    this.closeTimer?.cancel();
    this.sweep?.delete(this);
    this.parser.stop();
    this.fragments = [];
    this.deflate?.close();
    let closed: WebSocketClosed;
    if (this.receivedCode !== undefined) {
      closed = new WebSocketClosed(`WebSocket closed with ${this.receivedCode}`, {
        closeCode: this.receivedCode,
        closeReason: this.receivedReason,
        wasClean: this.sentClose,
        cause: reason,
      });
    } else if (this.failure) {
      closed = new WebSocketClosed(`WebSocket failed with ${this.failure.closeCode}: ${this.failure.message}`, {
        closeCode: this.failure.closeCode,
        cause: this.failure,
      });
    } else {
      const cause = this.timedOut ?? reason;
      closed = new WebSocketClosed(`WebSocket closed abnormally: ${cause.message}`, { closeCode: CLOSE_ABNORMAL, cause });
    }
    meterOf(this.outer)?.sessionClosed(closed.closeCode);
    return this.hooks.connectionLost(closed);
  }

  // internals

  /** A compressed message's pieces, decompressed (up to `maxMessageBytes`) and checked; undefined once it failed the connection (1009, 1007). */
  private inflate(pieces: Buffer[], text: boolean): Buffer | undefined {
    let data: Buffer;
    try {
      data = this.deflate!.decompress(pieces, this.options.maxMessageBytes);
    } catch (error) {
      this.fail(error as SkeinError & { closeCode: number });
      return undefined;
    }
    if (text && !isUtf8(data)) {
      this.fail(new WebSocketInvalidPayloadError('text message is not valid UTF-8'));
      return undefined;
    }
    return data;
  }

  private deliver(data: Buffer, isBinary: boolean): void {
    this.hooks.frameReceived();
    this.settle(this.hooks.messageReceived(data, isBinary));
  }

  /** Follows a hook's promise: counts it in flight (for drain) and reports a rejection. */
  private settle(result: void | Promise<void>): void {
    if (!result || typeof (result as PromiseLike<void>).then !== 'function') return;
    this.inFlight++;
    (result as PromiseLike<void>).then(
      () => this.settled(),
      (error: unknown) => {
        this.settled();
        reportFailure(this.outer, error);
      },
    );
  }

  private settled(): void {
    this.inFlight--;
    if (this.draining && this.inFlight === 0) this.close(CLOSE_GOING_AWAY, 'server going away');
  }

  private control(opcode: number, payload: Buffer): void {
    if (opcode === OP_PING) {
      if (this.state === OPEN) this.outer.transport.write(encodeControl(OP_PONG, payload));
      return;
    }
    if (opcode === OP_PONG) {
      this.hooks.pongReceived(payload);
      return;
    }
    // Close.
    let code = CLOSE_NO_STATUS;
    let reason = '';
    if (payload.length === 1) return this.fail(new WebSocketProtocolError('a close frame payload of 1 byte'));
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isSendableCloseCode(code)) return this.fail(new WebSocketProtocolError(`invalid close code ${code}`));
      const text = payload.subarray(2);
      if (!isUtf8(text)) return this.fail(new WebSocketInvalidPayloadError('close reason is not valid UTF-8'));
      reason = text.toString();
    }
    this.receivedCode = code;
    this.receivedReason = reason;
    this.parser.stop();
    this.fragments = [];
    // Echo the peer's code (none if it sent none), then close: the server closes the TCP connection first.
    if (!this.sentClose) this.sendClose(code === CLOSE_NO_STATUS ? undefined : code, '');
    this.state = CLOSED;
    this.outer.transport.loseConnection();
    this.armCloseTimer();
  }

  private sendClose(code: number | undefined, reason: string): void {
    this.sentClose = true;
    this.outer.transport.write(encodeControl(OP_CLOSE, closePayload(code, reason)));
  }

  /** Fails the connection (RFC 6455 §7.1.7): Close with the error's code, stop reading, close. */
  private failWith(error: SkeinError & { closeCode: number }): void {
    if (this.state === CLOSED) return;
    this.failure = error;
    meterOf(this.outer)?.protocolError(error.code);
    this.parser.stop();
    this.fragments = [];
    if (!this.sentClose) this.sendClose(error.closeCode, '');
    this.state = CLOSED;
    this.outer.transport.loseConnection();
    this.armCloseTimer();
  }

  private armCloseTimer(): void {
    if (this.closeTimer || this.lost) return;
    this.closeTimer = this.hooks.callLater(this.options.closeTimeout, () => {
      if (this.lost) return;
      this.timedOut = new WebSocketCloseTimeoutError(`the peer did not complete the closing handshake within ${this.options.closeTimeout} s`);
      meterOf(this.outer)?.protocolError(this.timedOut.code);
      this.outer.transport.abortConnection();
    });
  }

  /**
   * @internal Called by the ping sweep (every quarter of the shorter of `pingInterval` and `pingTimeout`,
   * at most 1 s) with its clock's seconds: pings a peer silent for `pingInterval`, drops one silent for
   * `pingTimeout` after that ping (or, once closing, for `pingInterval`). Silence is counted from the
   * sweep that last saw bytes, so each limit acts no earlier than set and at most one sweep later.
   */
  checkAlive(now: number): void {
    if (this.lost) return;
    if (this.heard) {
      this.heard = false;
      this.quietSince = now;
      this.pingedAt = -1;
      return;
    }
    if (this.pingedAt < 0) {
      if (now - this.quietSince < this.options.pingInterval) return;
      if (this.state === OPEN) {
        this.pingedAt = now;
        this.outer.transport.write(encodeControl(OP_PING, EMPTY));
        return;
      }
    } else if (now - this.pingedAt < this.options.pingTimeout) {
      return;
    }
    this.timedOut = new WebSocketPingTimeoutError(`the peer sent nothing for ${this.options.pingInterval + this.options.pingTimeout} s, not even a pong`);
    meterOf(this.outer)?.protocolError(this.timedOut.code);
    this.outer.transport.abortConnection();
  }
}

/**
 * A message sent in pieces ({@link WebSocketProtocol.beginMessage}): each `write` goes out at once as one
 * frame, `end` sends the last frame. Nothing is buffered; a protocol that streams much should register a
 * producer on its transport to hear when the peer does not read.
 */
export class MessageWriter {
  /** @internal */
  constructor(private readonly session: WebSocketSession) {}

  /** Sends `data` as the message's next frame (an empty write sends nothing); false once the WebSocket is closing or the message ended. */
  write(data: Buffer | Uint8Array | string): boolean {
    return this.session.writePiece(this, data, false);
  }

  /** Sends the last frame (with `data`, or empty) and ends the message; false once the WebSocket is closing or it already ended. */
  end(data: Buffer | Uint8Array | string = EMPTY): boolean {
    return this.session.writePiece(this, data, true);
  }
}
