/**
 * Streamed HTTP responses: the turn each response waits for (every response
 * queued before it is out), and writing a body chunk by chunk under the
 * transport's backpressure.
 */
import { asBuffer } from '../../shared/protocol/bytes.js';
import type { Transport } from '../../shared/protocol/transport.js';
import { chunkFrame, LAST_CHUNK } from './response.js';

/** The response slots of one connection, released in order (0, 1, 2 …). */
export class ResponseTurns {
  private released = 0;
  /** Streamed responses waiting for their turn, by slot. */
  private readonly waiters = new Map<number, () => void>();

  /** Resolves when every response queued before slot `seq` has been written. */
  wait(seq: number): Promise<void> {
    if (this.released === seq) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.set(seq, resolve));
  }

  /** One more slot is out: a streamed response waiting for this turn may start. */
  advance(): void {
    const seq = ++this.released;
    if (this.waiters.size === 0) return;
    const waiter = this.waiters.get(seq);
    if (waiter) {
      this.waiters.delete(seq);
      waiter();
    }
  }
}

/**
 * Writes a body straight to the transport as a streaming producer: pauses
 * while the transport is above its high-water mark, stops when the connection
 * goes. Resolves with what must still be written to end the response (the last
 * chunk), or '' when nothing is. A body that throws cuts the connection: the
 * head is out, so that is the only honest signal left.
 */
export async function writeBody(
  transport: Transport,
  body: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  chunked: boolean,
  isConnected: () => boolean,
): Promise<string> {
  let paused: Promise<void> | undefined;
  let resume: (() => void) | undefined;
  let stopped = false;
  transport.registerProducer(
    {
      pauseProducing: () => void (paused ??= new Promise<void>((r) => (resume = r))),
      resumeProducing: () => {
        paused = undefined;
        resume?.();
      },
      stopProducing: () => {
        stopped = true;
        resume?.();
      },
    },
    true,
  );
  try {
    for await (const chunk of body) {
      if (stopped || !isConnected()) return '';
      transport.write(chunked ? chunkFrame(chunk) : asBuffer(chunk));
      if (paused) await paused;
    }
    return chunked ? LAST_CHUNK : '';
  } catch {
    transport.abortConnection();
    return '';
  } finally {
    transport.unregisterProducer();
  }
}
