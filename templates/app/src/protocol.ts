/**
 * Your protocol. skein builds one per connection, in every worker process:
 * `connectionMade`, then `lineReceived` for each line, then `connectionLost`.
 *
 *   npm start              # serve it on every core (tcp 9000, metrics on 127.0.0.1:9100)
 *   nc localhost 9000      # then type a line
 */
import { Factory, LineReceiver } from 'skein';

export class Greeter extends LineReceiver {
  override connectionMade(): void {
    this.sendLine('hello! send me a line');
  }

  override lineReceived(line: Buffer): void {
    this.sendLine(`you said: ${line.toString()}`);
  }
}

/** One factory per worker process: state kept here is shared by that worker's connections only. */
export default Factory.forProtocol(Greeter);
