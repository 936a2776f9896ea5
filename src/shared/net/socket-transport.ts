import type { Socket } from 'node:net';
import { DEFAULTS } from '../config/defaults.js';
import { addressFrom, type Address } from '../protocol/address.js';
import { ConnectionAborted, ConnectionDone, ConnectionLost, InvalidStateError, ShutdownError } from '../protocol/errors.js';
import type { MessageMeter } from '../protocol/message-meter.js';
import type { FrameFlow } from '../protocol/services.js';
import type { Producer, Transport } from '../protocol/transport.js';

/** Where a transport counts the bytes it sends (a server's per-service stats; a private counter on the client). */
export interface SentBytesCounter {
  bytesSent: number;
}

/** Water marks of one transport's unsent output, in bytes. */
export interface WaterMarks {
  /** Unsent bytes above which reading pauses (and a streaming producer is paused). */
  readonly high: number;
  /** Unsent bytes at or below which both resume. */
  readonly low: number;
}

const WRITE_BUFFER = 'write-buffer';
const EMPTY = Buffer.alloc(0);
/** Every transport's pause reasons before its first pause: never added to. */
const NO_REASONS = new Set<string>();
const PROTOCOL = 'protocol';
/** Held writes up to this many bytes leave as one gathered buffer rather than a writev of many. */
const GATHER_LIMIT = 64 * 1024;
/**
 * Gathered writes above Buffer's own pool size go through one buffer the
 * process reuses, as long as each write it carries leaves before `write`
 * returns (the kernel took every byte: a Writable is done with a chunk once its
 * length no longer counts). A write that has to wait keeps the buffer, and the
 * next gather takes a new one. A flood of pipelined replies then allocates
 * nothing per batch, where a copy per batch leaves up to 64 KiB of
 * ArrayBuffer garbage each, outside the heap V8 sizes its collections by.
 * Only for a socket with a native handle (libuv or TLS takes the bytes): a
 * JavaScript stream may keep a chunk after it is done with it (a duplex pair
 * hands it to the other side).
 */
const REUSED_GATHER_ABOVE = 4096;
let gatherBuffer: Buffer | undefined;
const SMALL_SEQUENCE = 4096; // bytes (upper bound, strings counted at 3 bytes a char): gathered by copying
/**
 * What every clean close reports: one shared, frozen instance, as Twisted's module-level
 * `connectionDone`. An error built per connection, even without a stack, cost about a quarter
 * of skein's own per-connection CPU (Connection: close HTTP on one worker: 10 of 40 µs).
 */
const CONNECTION_DONE: ConnectionDone = Object.freeze(withoutStack(() => new ConnectionDone()));
/**
 * A first write of at most this many bytes is one TCP segment on any path (the
 * smallest maximum segment size a peer may assume, RFC 1122): with nothing sent
 * before it, Nagle's algorithm never holds it back, so a deferred TCP_NODELAY
 * waits for a later write (see {@link SocketTransport.deferNoDelay}).
 */
const ONE_SEGMENT = 536;
/** TCP_NODELAY is set, off, or not wanted: nothing to do before a write. */
const NO_DELAY_SETTLED = 0;
/** Wanted before any write Nagle could hold: a first write of more than {@link ONE_SEGMENT} bytes, or a second. */
const NO_DELAY_BEFORE_SECOND_WRITE = 1;
/** Wanted before the next write (one has gone). */
const NO_DELAY_BEFORE_NEXT_WRITE = 2;
type NoDelayState = typeof NO_DELAY_SETTLED | typeof NO_DELAY_BEFORE_SECOND_WRITE | typeof NO_DELAY_BEFORE_NEXT_WRITE;

/** Default water marks (see `DEFAULTS`). */
export const DEFAULT_WATER_MARKS: WaterMarks = Object.freeze({ high: DEFAULTS.highWaterMark, low: DEFAULTS.lowWaterMark });

/**
 * A Transport backed by a node:net socket, for both ends: a server's
 * accepted connections and the client side's outgoing ones.
 *
 * Writes made while one chunk is delivered (between `beginDispatch` and
 * `endDispatch`) are held and leave together when the dispatch ends: one
 * `write` for one reply, one corked `writev` for several. Writes made
 * elsewhere (timers, promises) are corked until the next tick. Reading pauses
 * for named reasons (the protocol, a full write buffer, a full offload queue…)
 * and resumes only when no reason holds. While unsent output is above the
 * high-water mark, reading stops and a registered producer is paused, so a
 * peer that never reads cannot make the server buffer without bound.
 */
export class SocketTransport implements Transport, FrameFlow {
  private readonly peer: Address;
  private readonly host: Address;
  /** Why reading is paused; the shared empty set until the first pause (most connections never pause). */
  private pauseReasons: Set<string> = NO_REASONS;
  private corked = false;
  private dispatching = false;
  /** Writes held during the current dispatch: the only one, or (from the second on) all of them; and their bytes. */
  private heldOne: Buffer | undefined;
  private heldMany: Buffer[] | undefined;
  private heldBytes = 0;
  /** Bytes that may be held before the socket's buffer would pass the high-water mark (set per dispatch). */
  private heldRoom = 0;
  private producer: Producer | undefined;
  private streamingProducer = false;
  private closeReason: Error | undefined;
  private socketError: Error | undefined;
  private lostWrite = false;
  /** A receiver held frames back: deliver an empty chunk once reading resumes. */
  private redeliver = false;
  /** {@link stopReads} stopped the socket's handle reading: restart it on resume. */
  private handleStopped = false;
  /** Where a deferred TCP_NODELAY stands (see {@link deferNoDelay}). */
  private noDelay: NoDelayState = NO_DELAY_SETTLED;
  /** @internal Set by the socket's owner ({@link attachProtocol}): delivers a chunk as a read would (one dispatch, through the driver). */
  deliver: ((chunk: Buffer) => void) | undefined;
  disconnecting = false;

  constructor(
    readonly socket: Socket,
    private readonly marks: WaterMarks = DEFAULT_WATER_MARKS,
    private readonly stats: SentBytesCounter = { bytesSent: 0 },
    /** Called when our write side has finished (after `loseWriteConnection`). */
    private readonly onWriteClosed: () => void = () => {},
    /** The peer, when known better than the socket knows it (from a PROXY header). */
    peer?: Address,
    /** Times frames to their replies (undefined when metrics are off). */
    private readonly meter?: MessageMeter,
  ) {
    this.peer = peer ?? addressFrom(socket.remoteAddress, socket.remotePort, socket.remoteFamily);
    this.host = addressFrom(socket.localAddress, socket.localPort, socket.remoteFamily);
    socket.on('error', (error) => {
      this.socketError ??= error;
    });
    socket.on('drain', () => this.belowLowWater());
  }

  write(data: Buffer | string): void {
    this.meter?.replied();
    this.send(data);
  }

  writeSequence(chunks: ReadonlyArray<Buffer | string>): void {
    // One reply, however many chunks: pairs with one frame.
    this.meter?.replied();
    // During a dispatch the pieces are held and gathered at its end anyway: no copy here.
    if (this.dispatching) {
      // An index, not an iterator: this runs once per reply.
      for (let i = 0; i < chunks.length; i++) this.hold(chunks[i]!);
      return;
    }
    if (chunks.length > 1) {
      // Small frames (a prefix, a line and its delimiter): one copy is cheaper than one socket.write per piece.
      let total = 0;
      for (const chunk of chunks) total += typeof chunk === 'string' ? chunk.length * 3 : chunk.length;
      if (total <= SMALL_SEQUENCE) {
        this.send(Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))));
        return;
      }
    }
    for (const chunk of chunks) this.send(chunk);
  }

  private send(data: Buffer | string): void {
    if (this.dispatching) {
      this.hold(data);
      return;
    }
    const socket = this.socket;
    if (this.lostWrite || socket.destroyed || !socket.writable) return;
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    this.stats.bytesSent += bytes;
    if (this.noDelay !== NO_DELAY_SETTLED) this.noDelayBefore(bytes);
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(uncork, this);
    }
    socket.write(data);
    if (socket.writableLength > this.marks.high) this.aboveHighWater();
  }

  /**
   * Holds one write made during a dispatch. This runs once per reply piece (three per pipelined line),
   * so it reads no socket state: nothing but this transport can close the socket during a dispatch
   * (`abortConnection` drops what is held, and `flushHeld` checks the socket anyway).
   */
  private hold(data: Buffer | string): void {
    // After loseWriteConnection or an abort (which sets closeReason), writes go nowhere and count for nothing.
    if (this.lostWrite || this.closeReason !== undefined) return;
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    // The common dispatch holds one reply: no array for it.
    if (this.heldMany !== undefined) this.heldMany.push(chunk);
    else if (this.heldOne === undefined) this.heldOne = chunk;
    else {
      this.heldMany = [this.heldOne, chunk];
      this.heldOne = undefined;
    }
    this.stats.bytesSent += chunk.length;
    this.heldBytes += chunk.length;
    // Past the high-water mark, hand the bytes to the socket now so backpressure acts as it would unheld.
    if (this.heldBytes > this.heldRoom) this.flushHeld();
  }

  /** @internal Called by the socket's owner before it delivers a chunk to the protocol: writes are held. */
  beginDispatch(): void {
    this.dispatching = true;
    this.heldRoom = this.marks.high - this.socket.writableLength;
  }

  /** @internal Called after the chunk was delivered: the held writes leave together. */
  endDispatch(): void {
    this.dispatching = false;
    if (this.heldOne !== undefined || this.heldMany !== undefined) this.flushHeld();
  }

  loseConnection(): void {
    if (this.disconnecting) return;
    this.disconnecting = true;
    // With a streaming producer registered, close once it unregisters (Twisted's rule).
    if (this.producer && this.streamingProducer) return;
    this.endSocket();
  }

  abortConnection(): void {
    this.dropHeld();
    this.disconnecting = true;
    this.closeReason ??= new ConnectionAborted();
    this.socket.destroy();
  }

  loseWriteConnection(): void {
    if (this.lostWrite) return;
    this.flushHeld();
    this.lostWrite = true;
    this.socket.end(() => this.onWriteClosed());
  }

  /** Closes at once; `connectionLost` gets `reason`. */
  abortConnectionWith(reason: Error): void {
    this.closeReason ??= reason;
    this.abortConnection();
  }

  /** Closes because the server is shutting down. */
  shutdown(): void {
    this.abortConnectionWith(new ShutdownError());
  }

  getPeer(): Address {
    return this.peer;
  }

  getHost(): Address {
    return this.host;
  }

  pauseProducing(): void {
    this.pauseReading(PROTOCOL);
  }

  resumeProducing(): void {
    this.resumeReading(PROTOCOL);
  }

  pauseReading(reason: string): void {
    if (this.pauseReasons === NO_REASONS) this.pauseReasons = new Set();
    this.pauseReasons.add(reason);
    this.stopReads();
  }

  resumeReading(reason: string): void {
    if (!this.pauseReasons.delete(reason)) return;
    if (this.pauseReasons.size === 0 && !this.socket.destroyed) {
      // Frames held back go first; the socket reads again once none are left (see redeliverNow).
      if (this.redeliver) setImmediate(redeliverHeld, this);
      else this.startReads();
    }
  }

  /**
   * Pauses the socket and stops its handle reading. A paused net.Socket
   * alone keeps reading until its stream buffer is full: one more read (up to
   * 64 KiB, an ArrayBuffer of its own) would wait in it as long as the pause
   * lasts (past scavenges, until a full GC frees it); the kernel keeps those
   * bytes instead. The handle's `reading` flag stays set, so net.Socket's
   * `_read` (called to refill the paused stream) does not start it again:
   * only {@link startReads} does. A socket read directly (direct-read.ts) has
   * its handle stopped by `pause()` itself (`reading` false): nothing more to do.
   */
  private stopReads(): void {
    const socket = this.socket;
    if (!socket.isPaused()) socket.pause();
    // After the peer's FIN was read libuv reads no more, and a restart would read EOF again.
    if (this.handleStopped || socket.destroyed || readEnded(socket)) return;
    const handle = handleOf(socket);
    // Not reading: the stream's buffer is full and net.Socket restarts the handle itself once it drains.
    if (handle?.reading !== true) return;
    this.handleStopped = true;
    handle.readStop();
  }

  /** Resumes the socket, restarting its handle if {@link stopReads} stopped it. */
  private startReads(): void {
    const socket = this.socket;
    if (this.handleStopped) {
      this.handleStopped = false;
      const handle = handleOf(socket);
      if (handle !== undefined && !socket.destroyed) {
        const status = handle.readStart();
        if (status < 0) socket.destroy(new ConnectionLost(`connection lost: read failed (${status})`));
      }
    }
    socket.resume();
  }

  get readingPaused(): boolean {
    return this.pauseReasons.size > 0;
  }

  /**
   * Asks for the held-back frames' turn. The socket reads nothing more until
   * they are delivered: a client that sends frames faster than the per-turn
   * budget delivers them (tiny frames, read replies) fills the kernel's buffers,
   * not ours.
   */
  redeliverWhenReadable(): void {
    if (this.redeliver) return;
    this.redeliver = true;
    this.stopReads();
    if (this.pauseReasons.size === 0) setImmediate(redeliverHeld, this);
  }

  /** @internal The held-back frames' turn: an empty chunk down the path a read takes (one dispatch, the driver's guards). */
  redeliverNow(): void {
    // Paused again since it was scheduled: resumeReading schedules it anew.
    if (!this.redeliver || this.pauseReasons.size > 0) return;
    this.redeliver = false;
    if (this.socket.destroyed) return;
    this.deliver?.(EMPTY);
    // Every held frame delivered (none asked for another turn) and nothing else pausing: read again.
    if (!this.redeliver && this.pauseReasons.size === 0 && !this.socket.destroyed) this.startReads();
  }

  /** Reasons reading is paused for, for tests and debugging. */
  get readingPausedFor(): ReadonlySet<string> {
    return this.pauseReasons;
  }

  registerProducer(producer: Producer, streaming: boolean): void {
    if (this.producer) throw new InvalidStateError('a producer is already registered on this transport');
    this.producer = producer;
    this.streamingProducer = streaming;
    if (this.socket.destroyed) {
      producer.stopProducing();
      return;
    }
    if (!streaming) setImmediate(() => this.pullMore());
    else if (this.socket.writableLength + this.heldBytes > this.marks.high) producer.pauseProducing?.();
  }

  unregisterProducer(): void {
    this.producer = undefined;
    if (this.disconnecting && !this.socket.destroyed && this.closeReason === undefined) this.endSocket();
  }

  setTcpNoDelay(enabled: boolean): void {
    // On, while a deferred on is pending: it is set before any write Nagle could hold, which is the same.
    if (enabled && this.noDelay !== NO_DELAY_SETTLED) return;
    this.noDelay = NO_DELAY_SETTLED;
    this.socket.setNoDelay(enabled);
  }

  /**
   * @internal Turns TCP_NODELAY on, but only before the first write that
   * Nagle's algorithm could delay: a connection's first write, when it fits in
   * one segment, leaves at once either way (nothing of ours is unacknowledged).
   * A connection that answers once and closes (HTTP with `Connection: close`, a
   * one-shot request) then makes no `setsockopt` call. Only for a socket that
   * has sent nothing yet (not after a TLS handshake).
   */
  deferNoDelay(): void {
    this.noDelay = NO_DELAY_BEFORE_SECOND_WRITE;
  }

  /** A write of `bytes` is about to reach the socket while TCP_NODELAY is deferred. */
  private noDelayBefore(bytes: number): void {
    if (this.noDelay === NO_DELAY_BEFORE_SECOND_WRITE && bytes <= ONE_SEGMENT) {
      this.noDelay = NO_DELAY_BEFORE_NEXT_WRITE;
      return;
    }
    this.noDelay = NO_DELAY_SETTLED;
    this.socket.setNoDelay(true);
  }

  setTcpKeepAlive(enabled: boolean, initialDelaySeconds = 0): void {
    this.socket.setKeepAlive(enabled, initialDelaySeconds * 1000);
  }

  /** Why the connection ended, for `connectionLost`. */
  lostReason(): Error {
    if (this.closeReason) return this.closeReason;
    if (this.socketError) return new ConnectionLost(`connection lost: ${this.socketError.message}`, { cause: this.socketError });
    return CONNECTION_DONE;
  }

  /** Called when the socket closed: stops a registered producer. */
  closed(): void {
    const producer = this.producer;
    this.producer = undefined;
    producer?.stopProducing();
  }

  /** @internal */
  flush(): void {
    this.corked = false;
    this.socket.uncork();
    this.meter?.flushed();
  }

  /** Hands the writes held during this dispatch to the socket: one write (gathered when small), or a corked batch (one writev). */
  private flushHeld(): void {
    const one = this.heldOne;
    const many = this.heldMany;
    const bytes = this.heldBytes;
    if (one === undefined && many === undefined) return;
    this.dropHeld();
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return;
    if (this.noDelay !== NO_DELAY_SETTLED) this.noDelayBefore(bytes);
    if (one !== undefined) {
      socket.write(one);
    } else if (bytes <= GATHER_LIMIT) {
      // Many small replies (a pipelined batch of lines): one copy into one buffer is far cheaper
      // than one stream write request per reply, and still leaves in one syscall.
      if (bytes > REUSED_GATHER_ABOVE && socket.writableLength === 0 && handleOf(socket) !== undefined) writeGathered(socket, many!, bytes);
      else socket.write(Buffer.concat(many!, bytes));
    } else {
      socket.cork();
      for (const chunk of many!) socket.write(chunk);
      socket.uncork();
    }
    const queued = socket.writableLength;
    this.heldRoom = this.marks.high - queued;
    this.meter?.flushed();
    if (queued > this.marks.high) this.aboveHighWater();
  }

  private dropHeld(): void {
    this.heldOne = undefined;
    this.heldMany = undefined;
    this.heldBytes = 0;
  }

  private endSocket(): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    this.flushHeld();
    socket.end();
    // Close fully once our output is flushed, even if the peer keeps its side open.
    if (socket.writableFinished) socket.destroy();
    else socket.once('finish', () => socket.destroy());
  }

  private aboveHighWater(): void {
    if (this.pauseReasons.has(WRITE_BUFFER)) return;
    this.pauseReading(WRITE_BUFFER);
    if (this.producer && this.streamingProducer) this.producer.pauseProducing?.();
    this.watchFlush();
  }

  /** An empty write's callback runs once everything queued before it has been flushed. */
  private watchFlush(): void {
    this.socket.write(EMPTY, () => this.belowLowWater());
  }

  private belowLowWater(): void {
    if (this.socket.destroyed) return;
    if (this.socket.writableLength > this.marks.low) {
      if (this.pauseReasons.has(WRITE_BUFFER)) this.watchFlush();
      return;
    }
    if (this.pauseReasons.has(WRITE_BUFFER)) {
      this.resumeReading(WRITE_BUFFER);
      if (this.producer && this.streamingProducer) this.producer.resumeProducing();
    }
    if (this.producer && !this.streamingProducer) this.pullMore();
  }

  private pullMore(): void {
    const producer = this.producer;
    if (!producer || this.streamingProducer || this.socket.destroyed) return;
    if (this.socket.writableLength <= this.marks.low) {
      producer.resumeProducing();
      // A pull producer writes one chunk per call: keep asking while the buffer is low.
      if (this.producer === producer && this.socket.writableLength <= this.marks.low) setImmediate(() => this.pullMore());
    }
  }
}

/** Writes `chunks` (`bytes` in all, at most GATHER_LIMIT) gathered in the process's reused buffer (see REUSED_GATHER_ABOVE). */
function writeGathered(socket: Socket, chunks: readonly Buffer[], bytes: number): void {
  const into = (gatherBuffer ??= Buffer.allocUnsafeSlow(GATHER_LIMIT));
  let at = 0;
  for (const chunk of chunks) {
    into.set(chunk, at);
    at += chunk.length;
  }
  socket.write(into.subarray(0, bytes));
  // Bytes still queued: the write waits for the kernel, and the buffer is the socket's until it is done.
  if (socket.writableLength !== 0) gatherBuffer = undefined;
}

function uncork(transport: SocketTransport): void {
  transport.flush();
}

/** The part of a net.Socket's handle (a TCPWrap, PipeWrap or TLSWrap) that net.Socket itself uses to stop and start reads. */
interface ReadingHandle {
  reading: boolean;
  readStart(): number;
  readStop(): number;
}

function handleOf(socket: Socket): ReadingHandle | undefined {
  const handle = (socket as unknown as { _handle?: Partial<ReadingHandle> | null })._handle;
  return handle && typeof handle.readStop === 'function' && typeof handle.readStart === 'function' ? (handle as ReadingHandle) : undefined;
}

/** The peer's FIN has been read (the stream's end is pushed, maybe not yet emitted). */
function readEnded(socket: Socket): boolean {
  return (socket as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended === true;
}

function redeliverHeld(transport: SocketTransport): void {
  transport.redeliverNow();
}

/** Builds an error without capturing a stack: a clean close's stack (this module's load) tells nobody anything. */
function withoutStack<T>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
