/**
 * A zlib context driven synchronously, keeping its state between calls.
 *
 * permessage-deflate with context takeover needs a compressor that remembers
 * earlier messages, and skein wants each message handled within the read that
 * completed it (no thread-pool round trip, no reordering, no pause). node:zlib
 * offers either one-shot synchronous calls (`inflateRawSync`, a fresh context
 * each time) or asynchronous streams. This drives a stream's native handle
 * with `writeSync` the way node's own one-shot path does (lib/zlib.js
 * `processChunkSync`), without closing it afterwards. Running synchronously on
 * the worker's thread also avoids what `ws` users hit with permessage-deflate:
 * many zlib jobs queued on libuv's thread pool fragment memory that is never
 * given back (websockets/ws#1202, nodejs/node#8871).
 *
 * The internals it relies on (`_handle.writeSync`, `_writeState`,
 * `_handle.onerror`) are checked when a context is made; a node without them
 * fails loudly there, not with corrupt data.
 */
import { constants, type DeflateRaw, type InflateRaw } from 'node:zlib';

interface NativeZlib {
  writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void;
  onerror: (message: string, errno: number, code?: string) => void;
  reset(): void;
  close(): void;
}

interface ZlibInternals {
  _handle: NativeZlib | null;
  _writeState: Uint32Array;
}

/** Output is produced into this scratch buffer (shared: every call is synchronous), then copied out. */
const SCRATCH_SIZE = 64 * 1024;
let scratch: Buffer | undefined;

/** Thrown by {@link SyncZlib.run} when the output passes its limit. */
export class OutputLimitExceeded extends Error {}

/** Thrown by {@link SyncZlib.run} when zlib refuses the input (corrupt compressed data). */
export class ZlibDataError extends Error {}

export class SyncZlib {
  private readonly handle: NativeZlib;
  private readonly state: Uint32Array;
  private error: string | undefined;
  private closed = false;

  constructor(private readonly engine: InflateRaw | DeflateRaw) {
    const internals = engine as unknown as Partial<ZlibInternals>;
    const handle = internals._handle;
    if (!handle || typeof handle.writeSync !== 'function' || !(internals._writeState instanceof Uint32Array)) {
      engine.close();
      throw new Error('this Node.js version does not expose zlib handles as expected (permessage-deflate cannot run synchronously)');
    }
    this.handle = handle;
    this.state = internals._writeState;
    // zlib reports errors here; node's own handler would destroy the stream and emit later. Keep it synchronous.
    handle.onerror = (message) => {
      this.error = message;
    };
    engine.on('error', () => {});
  }

  /**
   * Runs `input` through with a sync flush and returns what came out. With
   * `limit`, throws {@link OutputLimitExceeded} as soon as the output would
   * pass it (a zip bomb stops after `limit` bytes, not at its end).
   * @throws ZlibDataError for input zlib refuses (the context is then unusable).
   */
  run(input: Buffer, limit = Infinity, out: Buffer[] = [], produced = 0): Buffer[] {
    if (this.closed) throw new ZlibDataError('zlib context is closed');
    const buffer = (scratch ??= Buffer.allocUnsafe(SCRATCH_SIZE));
    let inOff = 0;
    let inLen = input.length;
    for (;;) {
      this.handle.writeSync(constants.Z_SYNC_FLUSH, input, inOff, inLen, buffer, 0, SCRATCH_SIZE);
      if (this.error !== undefined) {
        const message = this.error;
        this.close();
        throw new ZlibDataError(message);
      }
      const availOut = this.state[0]!;
      const availIn = this.state[1]!;
      const have = SCRATCH_SIZE - availOut;
      if (have > 0) {
        produced += have;
        if (produced > limit) throw new OutputLimitExceeded(`output exceeds ${limit} bytes`);
        out.push(Buffer.from(buffer.subarray(0, have)));
      }
      inOff += inLen - availIn;
      inLen = availIn;
      // The scratch buffer was not filled: the input is consumed and flushed.
      if (availOut !== 0) return out;
    }
  }

  /** Forgets the history (the next message starts a fresh stream). */
  reset(): void {
    if (!this.closed) this.handle.reset();
  }

  /** Frees the native context. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.engine.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
