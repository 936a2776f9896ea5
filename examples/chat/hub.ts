/**
 * The chat's relay between workers: every line a connection sends goes to every
 * other connection. Run it with one worker so all links meet in one process:
 *
 *   npx skein serve examples/chat/hub.ts --port 9100 --workers 1 --metrics-port 0
 */
import { Factory, LineReceiver } from 'skein';

export class Relay extends LineReceiver {
  private get links(): Set<Relay> {
    return (this.factory as RelayFactory).links;
  }

  override connectionMade(): void {
    this.links.add(this);
  }

  override lineReceived(line: Buffer): void {
    for (const link of this.links) if (link !== this) link.sendLine(line);
  }

  override connectionLost(): void {
    this.links.delete(this);
  }
}

export class RelayFactory extends Factory<Relay> {
  override protocol = Relay;
  readonly links = new Set<Relay>();
}

export default new RelayFactory();
