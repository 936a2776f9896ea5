/**
 * A client that keeps its connection to a line server, reconnecting with backoff
 * when the connection fails or drops. It sends `ping N` every second and prints
 * each line it receives. Try it against the seed (examples/seed), then stop and
 * restart the server:
 *
 *   npx skein serve examples/seed/seed.ts --port 9000 --workers 1 &
 *   npx tsx examples/client/client.ts 127.0.0.1 9000
 */
import { connectTCP } from 'skein';
import { PingerFactory } from './pinger.js';

const [host = '127.0.0.1', port = '9000'] = process.argv.slice(2);
const factory = new PingerFactory({ initialDelay: 0.2, maxDelay: 5 });
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
// Resolves with the first connection; failed attempts are retried. It rejects only
// when the factory stops trying before it ever connected.
await connectTCP(host, Number(port), factory, { timeout: 5 }).catch((error: Error) => console.log(`gave up: ${error.message}`));

function stop(): void {
  factory.stopTrying();
  factory.live?.transport.loseConnection();
}
