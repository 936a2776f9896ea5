/**
 * What ties a Protocol to the lifecycle driver that runs it, kept off the
 * protocol's public surface: module-private symbol keys (registered, so two
 * copies of skein loaded in one process still agree), read by the Protocol
 * base class and set by the driver. Protocol authors never see these; the
 * public index does not export them.
 */

/**
 * Where a protocol's failures go while a driver runs it. The driver is its
 * own link (no object or closures of its own per connection).
 */
export interface ProtocolLink {
  /** A failure outside a callback (a reply that failed): log, count, abort. */
  linkFailure(error: unknown): void;
  /** `closeWithError`: record, count, abort. */
  linkProtocolError(error: Error): void;
  /** `countProtocolError`: count only; the protocol answered the peer itself. */
  linkCountedError(error: Error): void;
}

/** The driver's {@link ProtocolLink}; absent when nothing drives the protocol (a bare StringTransport test). */
export const LINK: unique symbol = Symbol.for('skein.protocol.link');
/** The message meter, when metrics are on (read once per frame: its own key, one load). */
export const METER: unique symbol = Symbol.for('skein.protocol.meter');
/** Called by the driver after `connectionLost`: drops queued replies, cancels tasks, stops timers. */
export const RELEASE: unique symbol = Symbol.for('skein.protocol.release');
/**
 * True on a protocol that keeps nothing of a chunk past its `dataReceived` call
 * (it copies what it holds for later): its socket's reads may be lent from
 * one buffer the process reuses instead of copied (see net/direct-read.ts).
 * Built-in protocols only: a user protocol may keep the chunk it was given.
 */
export const LENT_READS: unique symbol = Symbol.for('skein.protocol.lentReads');
