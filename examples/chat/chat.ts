/**
 * A chat server: the first line a client sends is its name, every later line goes
 * to everyone else in the room as `name: text`.
 *
 *   npx skein serve examples/chat/chat.ts --port 9000 --workers 1
 *
 * What is per worker. skein runs one ChatFactory per worker process, and the room
 * (`members`) lives on it, so with N workers there are N rooms and a client hears
 * only the clients that landed on its worker. Three ways out:
 *
 * - one worker (`--workers 1`): one room, one core;
 * - `--balance client-hash`: every connection from one client address reaches the
 *   same worker. That keeps per-client state together (sessions, rate limits), but
 *   clients at different addresses may still sit in different rooms;
 * - an external store that every worker reaches: here a relay (`hub.ts`, itself a
 *   skein server run with one worker) that each worker connects to in
 *   `startFactory` and that passes every line to the other workers. In production
 *   the same shape is Redis pub/sub, NATS or a database:
 *
 *     npx skein serve examples/chat/hub.ts --port 9100 --workers 1 --metrics-port 0
 *     npx skein serve examples/chat/chat.ts --port 9000 --option hub=127.0.0.1:9100
 */
import { connectTCP, Factory, LineReceiver, ReconnectingClientFactory, type Address } from 'skein';

export class ChatProtocol extends LineReceiver {
  name: string | undefined;

  private get room(): ChatFactory {
    return this.factory as ChatFactory;
  }

  override connectionMade(): void {
    this.sendLine('welcome! your name?');
  }

  override lineReceived(line: Buffer): void {
    const text = line.toString();
    if (this.name === undefined) {
      this.name = text;
      this.room.members.add(this);
      return this.sendLine(`hello ${text}, ${this.room.members.size} here on this worker`);
    }
    this.room.broadcast(`${this.name}: ${text}`, this);
  }

  override connectionLost(): void {
    this.room.members.delete(this);
  }
}

/** One per worker process: the room of that worker, and its link to the hub when there is one. */
export class ChatFactory extends Factory<ChatProtocol> {
  override protocol = ChatProtocol;
  readonly members = new Set<ChatProtocol>();
  private hub: HubClientFactory | undefined;

  /** Connects to the hub (service option `hub=HOST:PORT`) before this worker takes connections. */
  override async startFactory(): Promise<void> {
    const spec = this.options.hub;
    if (typeof spec !== 'string') return;
    const at = spec.lastIndexOf(':');
    this.hub = new HubClientFactory(this);
    await connectTCP(spec.slice(0, at), Number(spec.slice(at + 1)), this.hub, { timeout: 5 });
  }

  override stopFactory(): void {
    this.hub?.stopTrying();
    this.hub?.link?.transport.loseConnection();
  }

  /** Sends `message` to every member of this worker's room but `from`, and to the other workers through the hub. */
  broadcast(message: string, from?: ChatProtocol): void {
    this.deliver(message, from);
    this.hub?.link?.sendLine(message);
  }

  /** Sends `message` to this worker's room only. */
  deliver(message: string, from?: ChatProtocol): void {
    for (const member of this.members) if (member !== from) member.sendLine(message);
  }
}

/** This worker's connection to the hub: lines from it are messages from other workers. */
export class HubLink extends LineReceiver {
  override lineReceived(line: Buffer): void {
    (this.factory as HubClientFactory).room.deliver(line.toString());
  }

  override connectionLost(): void {
    const factory = this.factory as HubClientFactory;
    if (factory.link === this) factory.link = undefined;
  }
}

/** Keeps one link to the hub, reconnecting after 0.5 s, 1 s, 2 s … (at most 5 s) when it is lost. */
export class HubClientFactory extends ReconnectingClientFactory<HubLink> {
  override protocol = HubLink;
  link: HubLink | undefined;

  constructor(readonly room: ChatFactory) {
    super({ initialDelay: 0.5, factor: 2, maxDelay: 5 });
  }

  override buildProtocol(addr: Address): HubLink | null {
    this.link = super.buildProtocol(addr) ?? undefined;
    return this.link ?? null;
  }
}

export default new ChatFactory();
