/**
 * The seed: Twisted's first server, in TypeScript. A welcome line when a client
 * connects, then every chunk it sends answered with `Processed: ` and the chunk.
 *
 *   npx skein serve examples/seed/seed.ts --port 9000     # on every core
 *   npx tsx examples/seed/main.ts                         # the same, from your own script
 */
import { Factory, Protocol } from 'skein';

export class MyProtocol extends Protocol {
  override connectionMade(): void {
    this.transport.write('Welcome to my network application!\r\n');
  }

  override dataReceived(data: Buffer): void {
    this.transport.write(this.processData(data));
  }

  processData(data: Buffer): Buffer {
    return Buffer.concat([Buffer.from('Processed: '), data]);
  }
}

export default Factory.forProtocol(MyProtocol);
