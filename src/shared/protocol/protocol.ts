import type { DelayedCall } from './clock.js';
import { realClock } from './clock.js';
import { ConnectionLost, NoProcessorError } from './errors.js';
import type { Factory, ProtocolFactory } from './factory.js';
import type { MessageMeter } from './message-meter.js';
import { LINK, METER, RELEASE, type ProtocolLink } from './link.js';
import { ReplyQueue, type ReplyValue } from './reply-queue.js';
import { hasFrameFlow, type OffloadOptions, type PausableReading } from './services.js';
import type { Transport } from './transport.js';

/** Why reading is paused while too many replies are queued. */
const REPLIES = 'replies';

/** Marks skein protocol classes so they are recognised by shape even across two copies of skein. */
export const PROTOCOL_BRAND = Symbol.for('skein.protocol');

/** A protocol whatever its factory's type: what the reactor and the wrappers handle. */
export type AnyProtocol = Protocol<ProtocolFactory>;

/**
 * One connection's behaviour. Twisted's `Protocol`.
 *
 * The reactor calls `connectionMade` once, then `dataReceived` for each chunk,
 * then `connectionLost` exactly once (also on reset, abort and shutdown).
 * A callback that throws or rejects aborts this connection only; the error is
 * logged and counted in `skein_protocol_errors_total`.
 *
 * `F` is the type of its factory, so a protocol reaches its own factory's
 * fields without a cast: `class KV extends LineReceiver<KVFactory>` sees
 * `this.factory.store`. One factory runs per worker process.
 */
export class Protocol<F extends ProtocolFactory = Factory> {
  /** Marks skein protocol classes (recognised across two copies of skein). */
  static readonly [PROTOCOL_BRAND] = true;

  /** Where to write. Set before `connectionMade`. */
  transport!: Transport;
  /** The factory that built this protocol (one per worker process: what it holds is shared by this worker's connections). */
  factory!: F;
  /** True between `connectionMade` and `connectionLost`. */
  connected = false;

  /** @internal Set by the driver: where failures and protocol errors go (see link.ts). */
  [LINK]: ProtocolLink | undefined = undefined;
  /** @internal Set by the driver when metrics are on: counts frames and times them to their reply. */
  [METER]: MessageMeter | undefined = undefined;

  /**
   * Replies queued by {@link Protocol.reply} and not yet written above which
   * reading from the peer pauses (it resumes at half): a pipelining client
   * cannot make the worker hold more than this many pending replies, however
   * small each is.
   */
  maxPendingReplies = 32;

  // ES private fields: a user subclass may name its own fields anything.
  #replies: ReplyQueue | undefined;
  #pausedForReplies = false;
  /** The peer half-closed: close once everything received is answered. */
  #finishing = false;
  #lifetime: AbortController | undefined;
  #released = false;

  /**
   * Binds the transport and calls `connectionMade`. The driver calls it when a
   * connection is up; a test calls it with a `StringTransport`, as in Twisted.
   */
  makeConnection(transport: Transport): void | Promise<void> {
    this.connected = true;
    this.transport = transport;
    return this.connectionMade();
  }

  /** Called once when the connection is up. */
  connectionMade(): void | Promise<void> {}

  /** Called with each chunk of bytes as it arrives (chunk boundaries carry no meaning). */
  dataReceived(_data: Buffer): void | Promise<void> {}

  /**
   * Called exactly once when the connection is gone. `reason` is a
   * `ConnectionDone` for a clean close, `ConnectionLost`, `ConnectionAborted`
   * or `ShutdownError` otherwise. A clean close on a socket passes one shared,
   * frozen `ConnectionDone` (as Twisted's module-level `connectionDone`): test
   * it with `instanceof` or its `code`, do not modify it.
   */
  connectionLost(_reason: Error): void | Promise<void> {}

  /**
   * Called after the peer half-closed (only when the transport allows
   * half-open connections). The default answers everything received before
   * the FIN (frames still held back, replies still pending in the pool
   * included), then closes: {@link Protocol.loseConnectionWhenAnswered}.
   */
  readConnectionLost(): void {
    this.loseConnectionWhenAnswered();
  }

  /**
   * Closes the connection (`transport.loseConnection`: flush, then close) once
   * every frame received has been delivered and every reply queued with
   * {@link Protocol.reply} has been written; at once if nothing is pending.
   */
  loseConnectionWhenAnswered(): void {
    this.#finishing = true;
    this.finishIfDone();
  }

  /** True while received frames wait to be delivered (a framing receiver's held-back frames). */
  protected get framesWaiting(): boolean {
    return false;
  }

  /** Closes now if {@link Protocol.loseConnectionWhenAnswered} asked for it and nothing is pending. */
  protected finishIfDone(): void {
    if (this.#finishing && this.connected && this.pendingReplies === 0 && !this.framesWaiting) this.transport.loseConnection();
  }

  /** Called after `loseWriteConnection` completed. */
  writeConnectionLost(): void {}

  /**
   * Called once when the reactor starts draining (shutdown or reload), for
   * each open connection, and at once for one whose TLS handshake or PROXY
   * header finishes during the drain. Close at a safe point if the protocol
   * knows one; the default waits for the peer to close. A throw aborts this
   * connection and is counted, like any other callback's.
   */
  drain(): void {}

  /**
   * Tells the reactor that one message (a frame: a line, a length-prefixed
   * string, a request) was parsed. Framing protocols call it once per frame,
   * before handing the frame on; a protocol without framing may call it per
   * chunk. The reactor counts it in `skein_messages_total` and pairs it, first
   * in first out, with the next reply written (one `transport.write`,
   * `writeSequence` or released {@link Protocol.reply}), to observe
   * `skein_message_duration_seconds` from the frame's arrival to its reply.
   * A reply made of several writes should use `writeSequence` or `reply` so it
   * is paired once. Costs an addition and an array slot; a no-op when metrics
   * are off.
   */
  frameReceived(): void {
    this[METER]?.received();
  }

  /**
   * Runs the processor named `task` from the factory's `processors` module on a
   * pool thread, as `processor(payload, { signal })`, and resolves with what it
   * returns. The payload and result are copied with structured clone (Buffers
   * arrive as Buffers); `options.transfer` moves ArrayBuffers instead.
   *
   * When the pool queue is full, the task waits and this connection stops
   * reading until it has room (or, with `--pool-overload reject`, the promise
   * rejects with OffloadOverloadError). When the connection is lost, its
   * queued tasks are dropped and its running tasks see `signal.aborted`.
   *
   * Rejects with the error the processor threw (a skein error keeps its class;
   * any other keeps its name, code and message), NoProcessorError when the
   * factory declares no processors or the export is missing,
   * OffloadCancelledError, OffloadOverloadError, or OffloadThreadError when the
   * thread died under the task (the pool replaces it).
   */
  offload<T = unknown>(task: string, payload?: unknown, options: OffloadOptions = {}): Promise<T> {
    const reactor = this.factory?.reactor;
    const processors = this.factory?.processors;
    if (!reactor || processors === undefined) {
      return Promise.reject(new NoProcessorError(`cannot offload '${task}': the factory declares no processors module`));
    }
    if (!this.#lifetime) {
      this.#lifetime = new AbortController();
      if (this.#released) this.#lifetime.abort();
    }
    return reactor.offload({
      processors: String(processors),
      task,
      payload,
      protocol: this.factory.protocolName,
      options,
      lifetime: this.#lifetime.signal,
      ...(isPausable(this.transport) ? { connection: this.transport } : {}),
    }) as Promise<T>;
  }

  /**
   * Writes `reply` once it is ready, after every reply queued before it: replies
   * leave in request order even when their promises settle out of order.
   * A rejected reply goes to {@link Protocol.replyFailed}.
   */
  reply(reply: ReplyValue | PromiseLike<ReplyValue>): void {
    this.#replies ??= new ReplyQueue(
      (data) => {
        if (this.connected) this.transport.write(data);
        this.replyWritten();
      },
      (error) => {
        try {
          this.replyFailed(error);
        } catch (thrown) {
          reportFailure(this, thrown);
        }
      },
      (pending) => this.#repliesReleased(pending),
    );
    this.#replies.push(reply);
    if (!this.#pausedForReplies && this.#replies.pending >= this.maxPendingReplies && hasFrameFlow(this.transport)) {
      this.#pausedForReplies = true;
      this.transport.pauseReading(REPLIES);
    }
  }

  #repliesReleased(pending: number): void {
    if (this.#pausedForReplies && pending <= this.maxPendingReplies >> 1) {
      this.#pausedForReplies = false;
      if (hasFrameFlow(this.transport)) this.transport.resumeReading(REPLIES);
    }
    if (pending === 0) this.finishIfDone();
  }

  /** Number of replies queued by `reply` and not yet written. */
  get pendingReplies(): number {
    return this.#replies?.pending ?? 0;
  }

  /**
   * Called (in order) for a reply whose promise rejected. The default aborts
   * the connection; override to answer with a protocol-level error instead.
   * A throw from it aborts the connection and is counted.
   */
  replyFailed(error: unknown): void {
    if (this.connected) throw error;
  }

  /**
   * Called after each reply given to {@link Protocol.reply} has been written
   * (in order; a `null` or `undefined` reply writes nothing and is not
   * reported), also when the connection was already lost and nothing was
   * written. The default does nothing; a protocol that must act once a reply is
   * out (close after it, start the next streamed body) overrides it.
   */
  replyWritten(): void {}

  /**
   * Closes the connection at once because the peer broke the protocol (a frame
   * over a limit, a malformed message, an idle timeout). Pending output is
   * dropped, `connectionLost` receives `error`, and the reactor logs it and
   * counts it in `skein_protocol_errors_total{code}` under `error.code`
   * (`SKEIN_ERR_UNKNOWN` when it has none). For a clean close use
   * `transport.loseConnection()` instead. Does nothing once the connection is
   * lost or already closing with an error.
   */
  closeWithError(error: Error): void {
    if (!this.connected) return;
    const link = this[LINK];
    if (link) link.linkProtocolError(error);
    else this.transport.abortConnection();
  }

  /**
   * Counts a protocol error in `skein_protocol_errors_total{code}` under
   * `error.code` without closing the connection: for a protocol that answers
   * the peer itself (HTTP's 400, 408, 413, 414, 431 …) and closes, or not, on
   * its own terms. Does nothing when no reactor drives the protocol.
   */
  countProtocolError(error: Error): void {
    this[LINK]?.linkCountedError(error);
  }

  /** Schedules `fn` on the reactor clock (cancel it with the returned handle). */
  callLater(seconds: number, fn: () => void): DelayedCall {
    return (this.factory?.reactor?.clock ?? realClock).callLater(seconds, fn);
  }

  /** @internal Called by the driver after `connectionLost`: drops queued replies, cancels tasks. Subclasses extend it to stop their timers. */
  [RELEASE](): void {
    this.connected = false;
    this.#released = true;
    this.#replies?.close();
    this.#lifetime?.abort(new ConnectionLost());
  }
}

/** True when `value` is a protocol class (by brand or by shape). */
export function isProtocolClass(value: unknown): value is new () => Protocol {
  if (typeof value !== 'function') return false;
  const v = value as unknown as Record<PropertyKey, unknown> & { prototype?: Record<string, unknown> };
  return v[PROTOCOL_BRAND] === true || (typeof v.prototype?.dataReceived === 'function' && typeof v.prototype?.makeConnection === 'function');
}

/**
 * Reports a failure outside a callback (a reply that failed) for `protocol`:
 * to its driver, which logs, counts and aborts; without one, aborts.
 */
export function reportFailure(protocol: AnyProtocol, error: unknown): void {
  const link = protocol[LINK];
  if (link) link.linkFailure(error);
  else if (protocol.connected) protocol.transport.abortConnection();
}

function isPausable(transport: unknown): transport is PausableReading {
  return typeof (transport as Partial<PausableReading> | undefined)?.pauseReading === 'function';
}
