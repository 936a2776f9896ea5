import type { Clock } from './clock.js';

/** Options of one offloaded call. */
export interface OffloadOptions {
  /** ArrayBuffers (or views of them) to move to the thread instead of copying. */
  transfer?: ReadonlyArray<ArrayBufferLike | ArrayBufferView>;
  /**
   * Cancels the task: a queued task is removed and rejects with
   * OffloadCancelledError; a running one rejects at once and its processor
   * sees `signal.aborted` (the thread is not killed).
   */
  signal?: AbortSignal;
}

/**
 * The second argument of every processor: `export function digest(payload, { signal }) {…}`.
 * Processors run on pool threads; a long one should check `signal.aborted`
 * (or listen for `abort`) and stop early when its task is cancelled.
 */
export interface ProcessorContext {
  /** Aborted when the task is cancelled (its connection was lost, or the caller's signal aborted). */
  readonly signal: AbortSignal;
}

/** One task for the offload pool. */
export interface OffloadRequest {
  /** Module (absolute path or file URL) whose named exports are processors. */
  processors: string;
  /** Name of the exported processor function. */
  task: string;
  /** The task's input, structured-cloned to the thread. */
  payload: unknown;
  /** Protocol label for metrics. */
  protocol: string;
  /** The caller's options (transfer list, signal). */
  options?: OffloadOptions;
  /** Aborted when the caller's connection is lost: cancels the task like `options.signal`. */
  lifetime?: AbortSignal;
  /** The caller's connection: reading from it pauses while its tasks wait for room in the pool queue. */
  connection?: PausableReading;
}

/** A connection whose reading can be paused for a named reason (several may hold at once). */
export interface PausableReading {
  /** Stops reading for `reason` (reading stays paused while any reason holds). */
  pauseReading(reason: string): void;
  /** Lifts `reason`; reading resumes once no reason holds. */
  resumeReading(reason: string): void;
}

/**
 * The flow control a framing receiver uses between frames, so that what one
 * connection costs stays bounded however small its frames: frames already
 * received wait while reading is paused, as unread bytes would. SocketTransport
 * provides it; a transport without it (the testing kit's) delivers every frame at once.
 */
export interface FrameFlow extends PausableReading {
  /** True while reading is paused for any reason (unsent output over the high-water mark, a full pool queue, queued replies, the protocol). */
  readonly readingPaused: boolean;
  /**
   * Asks for `dataReceived` to be called once more, with an empty chunk, on a
   * later turn of the event loop once reading is no longer paused: the
   * receiver then delivers the frames it held back. Calls through the same
   * path as a read (one dispatch, failures handled), never synchronously.
   * No more bytes are read from the peer until a delivery ends without asking
   * again, so held-back frames never pile up behind new reads.
   */
  redeliverWhenReadable(): void;
}

/** True when `transport` offers {@link FrameFlow}. */
export function hasFrameFlow(transport: unknown): transport is FrameFlow {
  return typeof (transport as Partial<FrameFlow> | undefined)?.redeliverWhenReadable === 'function';
}

/**
 * What a reactor lends the factories it runs: a clock and the offload pool.
 * The worker's reactor, the single-process reactor and the testing kit each
 * provide one.
 */
export interface ReactorServices {
  /** The clock `callLater` schedules on. */
  readonly clock: Clock;
  /** Runs one task on the offload pool; resolves with what the processor returned. */
  offload(request: OffloadRequest): Promise<unknown>;
}
