/**
 * `lines`: the framed form of the seed. Each line (CRLF or LF terminated, up
 * to 16384 bytes without the ending) is answered with `Processed: <line>`;
 * a longer line closes the connection with SKEIN_ERR_LINE_TOO_LONG.
 * `skein serve lines`.
 */
import { InvalidOptionError } from '../shared/protocol/errors.js';
import { Factory } from '../shared/protocol/factory.js';
import { LineReceiver } from '../shared/protocol/framing/line-receiver.js';

const PREFIX = Buffer.from('Processed: ');
const CRLF = Buffer.from('\r\n');
const EMPTY = Buffer.alloc(0);

export class LinesProtocol extends LineReceiver {
  // Both `\n` and `\r\n` clients: the line arrives without either ending.
  override acceptBareLF = true;

  /** One reply's pieces, reused: a transport keeps the chunks, never the array (no array per line). */
  readonly #reply: Buffer[] = [PREFIX, EMPTY, CRLF];

  override lineReceived(line: Buffer): void {
    const reply = this.#reply;
    reply[1] = line;
    this.transport.writeSequence(reply);
    reply[1] = EMPTY; // the protocol does not keep the line
  }
}

/** The factory `skein serve lines` runs. Service option `maxLength` changes the line limit. */
export class LinesFactory extends Factory<LinesProtocol> {
  override protocol = LinesProtocol;

  private maxLength: number | undefined;

  /**
   * Checks the service options before anything is served.
   * @throws InvalidOptionError naming a bad option (`--option maxLength=abc`).
   */
  override startFactory(): void {
    const max = this.options.maxLength;
    if (max !== undefined && (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1)) {
      throw new InvalidOptionError(`lines: option 'maxLength' must be a positive integer (got ${JSON.stringify(max)})`);
    }
    this.maxLength = max;
  }

  override buildProtocol(): LinesProtocol {
    const protocol = new LinesProtocol();
    if (this.maxLength !== undefined) protocol.maxLength = this.maxLength;
    protocol.factory = this as unknown as Factory;
    return protocol;
  }
}

export default new LinesFactory();
