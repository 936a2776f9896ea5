/**
 * `processed`: the seed's protocol, on every core. A welcome line on connect,
 * then each chunk answered with `Processed: ` + the chunk. With the service
 * option `offload` (`skein serve processed --offload`) the processing step runs
 * on the worker's piscina pool, and replies still leave in order.
 */
import { InvalidOptionError } from '../shared/protocol/errors.js';
import { ownModule } from '../shared/config/loader.js';
import { Factory } from '../shared/protocol/factory.js';
import { Protocol } from '../shared/protocol/protocol.js';
import { processData } from './processed-processors.js';

export const WELCOME = 'Welcome to my network application!\r\n';

export class ProcessedProtocol extends Protocol {
  override connectionMade(): void {
    this.transport.write(WELCOME);
  }

  override dataReceived(data: Buffer): void {
    // No framing: one chunk is one message.
    this.frameReceived();
    if (this.factory.options.offload) {
      this.reply(this.offload<Buffer>('processData', data));
    } else {
      this.transport.write(processData(data));
    }
  }
}

/** The factory `skein serve processed` runs. */
export class ProcessedFactory extends Factory<ProcessedProtocol> {
  override protocol = ProcessedProtocol;
  override processors = ownModule('./processed-processors', import.meta.url);

  /**
   * Checks the service options before anything is served.
   * @throws InvalidOptionError naming a bad option (`--option offload=maybe`).
   */
  override startFactory(): void {
    const offload = this.options.offload;
    if (offload !== undefined && typeof offload !== 'boolean') {
      throw new InvalidOptionError(`processed: option 'offload' must be true or false (got ${JSON.stringify(offload)})`);
    }
  }
}

export default new ProcessedFactory();
