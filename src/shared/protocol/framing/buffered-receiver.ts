import { Protocol } from '../protocol.js';
import { hasFrameFlow } from '../services.js';
import { ReceiveBuffer } from './receive-buffer.js';
import type { Factory, ProtocolFactory } from '../factory.js';

/**
 * Frames one delivery may parse before the rest waits for the next turn of the
 * event loop (reading paused meanwhile): one read of tiny frames (64 KiB of
 * `\n` is 65,536 lines) costs the loop a bounded slice, and other connections
 * are served between slices.
 */
export const FRAMES_PER_TURN = 1024;

/**
 * What every framing receiver shares: received bytes go into one growing
 * buffer, and `parseFrames` delivers the complete frames in it. A frame
 * callback that feeds the receiver again (`setLineMode(extra)`, a loopback
 * peer) only appends: the outer parse loop picks the bytes up in order.
 *
 * The per-connection budget: before each frame, `parseFrames` asks
 * {@link BufferedReceiver.mayDeliverFrame}. Frames wait, still in the buffer,
 * while reading is paused (unsent output above the high-water mark, a full
 * pool queue, `maxPendingReplies` replies queued, the protocol paused), and
 * after {@link FRAMES_PER_TURN} frames in one delivery; they are delivered when
 * reading resumes, and the socket reads no more bytes until they are. So a client that sends many tiny frames and reads nothing
 * makes the worker hold about the high-water mark of output plus what it sent
 * (never an object per frame), and a half-closed client's frames are all
 * answered before the connection closes.
 */
export abstract class BufferedReceiver<F extends ProtocolFactory = Factory> extends Protocol<F> {
  /** Bytes received and not yet delivered as frames. */
  protected readonly received = new ReceiveBuffer();
  #receiving = false;
  /** Frames delivered in the current delivery. */
  #frames = 0;
  /** The current (or last) delivery stopped with frames left for later. */
  #heldBack = false;

  override dataReceived(data: Buffer): void {
    if (data.length > 0) this.received.append(data);
    if (this.#receiving) return;
    this.#receiving = true;
    this.#frames = 0;
    this.#heldBack = false;
    try {
      this.parseFrames();
    } finally {
      this.#receiving = false;
    }
    if (this.#heldBack) this.#waitForTurn();
    else {
      // What is left is a partial frame, which may wait long for its rest: keep its bytes, not the read's.
      this.received.trim();
      this.finishIfDone();
    }
  }

  /** Delivers the complete frames in {@link BufferedReceiver.received}, asking {@link BufferedReceiver.mayDeliverFrame} before each. */
  protected abstract parseFrames(): void;

  /**
   * Called by `parseFrames` before it delivers a frame: false when this frame
   * and the rest must wait in the buffer (see the class comment). Then
   * `parseFrames` returns at once, leaving the frame unconsumed.
   */
  protected mayDeliverFrame(): boolean {
    const transport = this.transport;
    if (!hasFrameFlow(transport)) return true;
    if (this.#frames >= FRAMES_PER_TURN || transport.readingPaused) {
      this.#heldBack = true;
      return false;
    }
    this.#frames++;
    return true;
  }

  /** True while frames received are held back (a half-close waits for them). */
  protected override get framesWaiting(): boolean {
    return this.#heldBack;
  }

  #waitForTurn(): void {
    // The frames left wait for a later turn, behind every other connection's: were they kept inside the
    // read they came in (64 KiB), that read would outlive several scavenges, be promoted, and be freed only
    // by a full GC; a copy of what is left (smaller each turn) dies young, and so does the read.
    this.received.compact();
    const transport = this.transport;
    // The transport reads nothing more until the held frames are delivered (on a later turn, once no pause holds).
    if (hasFrameFlow(transport) && this.connected) transport.redeliverWhenReadable();
  }
}
