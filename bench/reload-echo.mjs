/** The skein side of bench/reload-churn.ts: each line answered with `echo LINE`, as the baseline does. */
import { Protocol } from 'skein';

export default class EchoLines extends Protocol {
  buffer = '';

  dataReceived(data) {
    this.buffer += data.toString('latin1');
    let nl;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      this.transport.write(`echo ${this.buffer.slice(0, nl)}\n`);
      this.buffer = this.buffer.slice(nl + 1);
    }
  }
}
