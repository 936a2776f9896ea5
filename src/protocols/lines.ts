/**
 * `lines`: the framed form of the seed. Each line (CRLF or LF terminated, up
 * to 16384 bytes without the ending) is answered with `Processed: <line>`;
 * a longer line closes the connection with SKEIN_ERR_LINE_TOO_LONG.
 * `skein serve lines`.
 */
import { Factory } from '../shared/protocol/factory.js';
import { LineReceiver } from '../shared/protocol/framing/line-receiver.js';

const PREFIX = Buffer.from('Processed: ');
const CRLF = Buffer.from('\r\n');

export class LinesProtocol extends LineReceiver {
  // Both `\n` and `\r\n` clients: the line arrives without either ending.
  override acceptBareLF = true;

  override lineReceived(line: Buffer): void {
    this.transport.writeSequence([PREFIX, line, CRLF]);
  }
}

/** The factory `skein serve lines` runs. Service option `maxLength` changes the line limit. */
export class LinesFactory extends Factory<LinesProtocol> {
  override protocol = LinesProtocol;

  override buildProtocol(): LinesProtocol {
    const protocol = new LinesProtocol();
    const max = Number(this.options.maxLength);
    if (Number.isInteger(max) && max > 0) protocol.maxLength = max;
    protocol.factory = this as unknown as Factory;
    return protocol;
  }
}

export default new LinesFactory();
