/** The client's protocol and its reconnecting factory (the script is client.ts). */
import { LineReceiver, ReconnectingClientFactory, type Address, type DelayedCall } from 'skein';

export class Pinger extends LineReceiver {
  private count = 0;
  private timer: DelayedCall | undefined;

  override connectionMade(): void {
    console.log('connected');
    this.ping();
  }

  override lineReceived(line: Buffer): void {
    console.log(line.toString());
  }

  override connectionLost(reason: Error): void {
    this.timer?.cancel();
    console.log(`connection lost (${(reason as { code?: string }).code ?? reason.message})`);
    const factory = this.factory as PingerFactory;
    if (factory.live === this) factory.live = undefined;
  }

  private ping(): void {
    this.sendLine(`ping ${++this.count}`);
    this.timer = this.callLater(1, () => this.ping());
  }
}

export class PingerFactory extends ReconnectingClientFactory<Pinger> {
  override protocol = Pinger;
  /** The connected protocol, if any. */
  live: Pinger | undefined;

  override buildProtocol(addr: Address): Pinger | null {
    this.live = super.buildProtocol(addr) ?? undefined; // super resets the retry delay
    return this.live ?? null;
  }
}

