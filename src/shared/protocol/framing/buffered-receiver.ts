import { Protocol } from '../protocol.js';
import { ReceiveBuffer } from './receive-buffer.js';
import type { Factory, ProtocolFactory } from '../factory.js';

/**
 * What every framing receiver shares: received bytes go into one growing
 * buffer, and `parseFrames` delivers the complete frames in it. A frame
 * callback that feeds the receiver again (`setLineMode(extra)`, a loopback
 * peer) only appends: the outer parse loop picks the bytes up in order.
 */
export abstract class BufferedReceiver<F extends ProtocolFactory = Factory> extends Protocol<F> {
  /** Bytes received and not yet delivered as frames. */
  protected readonly received = new ReceiveBuffer();
  #receiving = false;

  override dataReceived(data: Buffer): void {
    this.received.append(data);
    if (this.#receiving) return;
    this.#receiving = true;
    try {
      this.parseFrames();
    } finally {
      this.#receiving = false;
    }
  }

  /** Delivers every complete frame in {@link BufferedReceiver.received}. */
  protected abstract parseFrames(): void;
}
