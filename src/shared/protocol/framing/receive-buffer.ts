const EMPTY = Buffer.alloc(0);
const MIN_CAPACITY = 256; // bytes: the first owned buffer, so tiny chunks do not reallocate often
const SMALL_CHUNK = 512; // bytes: copied into spare capacity rather than kept by reference (saves an allocation later)
const MAX_RESERVE = 1024 * 1024; // bytes: a peer's length prefix alone never makes us allocate more
const KEEP_CAPACITY = 1024; // bytes: an emptied owned buffer larger than this is released (Netty releases every one)

/**
 * The bytes a framing protocol has received but not yet parsed.
 *
 * Appending is amortised O(1) per byte (capacity doubles), so a stream that
 * arrives one byte at a time is still parsed in linear time. A large chunk
 * arriving while the buffer is empty is kept by reference, not copied: in the
 * common case (whole frames per socket read) no byte is copied at all.
 *
 * Views handed out by {@link ReceiveBuffer.view} stay valid after later
 * appends: bytes are only ever written past the end of what was handed out,
 * and growing allocates a new buffer instead of moving bytes in place.
 */
export class ReceiveBuffer {
  private buf: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  /** False while `buf` is a caller's chunk that we must not write into. */
  private owned = false;

  /** Unparsed bytes. */
  get length(): number {
    return this.end - this.start;
  }

  /** Adds a chunk at the end. */
  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.end === this.start && !(this.owned && chunk.length <= SMALL_CHUNK && this.end + chunk.length <= this.buf.length)) {
      this.buf = chunk;
      this.start = 0;
      this.end = chunk.length;
      this.owned = false;
      return;
    }
    if (!this.owned || this.end + chunk.length > this.buf.length) {
      // A large chunk after a few bytes (a line cut by the end of the last read): room for these two only.
      // Doubling is for growth by many appends, and the next append that finds no room doubles.
      const needed = this.length + chunk.length;
      this.reallocate(chunk.length > this.length ? needed : Math.max(MIN_CAPACITY, needed * 2));
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  /**
   * Makes room for `total` unparsed bytes in all (up to 1 MiB), so a frame of
   * announced size is gathered without regrowing. Growth past that is still
   * amortised: a peer's length prefix alone cannot make us allocate much.
   */
  reserve(total: number): void {
    const capacity = Math.min(total, MAX_RESERVE);
    if (this.length === 0 || capacity <= this.length || (this.owned && this.start + capacity <= this.buf.length)) return;
    this.reallocate(capacity);
  }

  /** The unparsed bytes, without copying. */
  view(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  /** Drops the first `n` unparsed bytes (they were parsed). */
  consume(n: number): void {
    this.start += n;
    // A small owned buffer keeps its spare capacity for the next small chunks (up to KEEP_CAPACITY: an
    // idle connection holds at most that, not what one burst grew); a borrowed one is let go.
    if (this.start >= this.end && (!this.owned || this.buf.length > KEEP_CAPACITY)) this.clear();
  }

  /**
   * Moves the unparsed bytes into a buffer of their own when they are part of
   * a larger one (a socket read partly parsed), so that one is no longer kept
   * by us. Views handed out before stay valid: nothing is written over.
   *
   * Called on every turn frames wait, so each buffer lives one turn and dies
   * young. Copying only once half a read is parsed copies a quarter as much,
   * but keeps each read for several turns: with 64 connections pipelining, a
   * worker's peak RSS grew 86–89 MiB that way against 43–55 MiB this way.
   */
  compact(): void {
    const length = this.end - this.start;
    if (length === 0 || (this.start === 0 && this.end === this.buf.length)) return;
    const next = Buffer.allocUnsafeSlow(length);
    this.buf.copy(next, 0, this.start, this.end);
    this.buf = next;
    this.start = 0;
    this.end = length;
    this.owned = false;
  }

  /**
   * Lets go of a borrowed buffer the unparsed bytes are a small part of (the
   * partial frame at the end of a read, or of an 8 KiB pool slab), copying
   * them into an allocation of their own. Called after each delivery: a
   * connection waiting for the rest of a frame then holds that frame's bytes,
   * not the whole read they came in (up to 64 KiB per idle connection).
   */
  trim(): void {
    const length = this.end - this.start;
    if (length === 0 || this.owned || length * 2 > this.buf.buffer.byteLength) return;
    this.compact();
  }

  /** Returns every unparsed byte and empties the buffer. */
  takeAll(): Buffer {
    const all = this.view();
    this.consume(all.length);
    return all;
  }

  /** Forgets every unparsed byte. */
  clear(): void {
    this.buf = EMPTY;
    this.start = 0;
    this.end = 0;
    this.owned = false;
  }

  /**
   * Moves the unparsed bytes to the start of a new owned buffer of `capacity` bytes.
   * Owned and compacted buffers are allocations of their own, never slices of node's
   * 8 KiB Buffer pool: a slice kept while a connection sits idle keeps the whole slab.
   */
  private reallocate(capacity: number): void {
    const next = Buffer.allocUnsafeSlow(capacity);
    this.buf.copy(next, 0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
    this.buf = next;
    this.owned = true;
  }
}
