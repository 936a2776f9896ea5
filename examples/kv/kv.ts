/**
 * A key-value store over a line protocol: `SET key value`, `GET key`, `DEL key`,
 * `KEYS`. Connections idle for 60 s are closed (TimeoutMixin).
 *
 *   npx skein serve examples/kv/kv.ts --port 9000 --workers 1
 *
 * The store lives on the factory, and skein runs one factory per worker process:
 * with several workers each has its own store, and a `GET` answers from the
 * worker the connection landed on. Run one worker (`--workers 1`, as above) for
 * one store per server, or keep the data outside the process (Redis, a database)
 * and let every worker reach it; `--balance client-hash` only keeps each client
 * address on one worker, it does not share the store.
 */
import { Factory, LineReceiver, TimeoutMixin } from 'skein';

/** One per worker process: the store is shared by that worker's connections. */
export class KVFactory extends Factory<KV> {
  override protocol = KV;
  readonly store = new Map<string, string>();
}

export class KV extends TimeoutMixin(LineReceiver) {
  override connectionMade(): void {
    this.setTimeout(60);
  }

  override lineReceived(line: Buffer): void {
    this.resetTimeout();
    const [command = '', key, ...rest] = line.toString().split(' ');
    const store = (this.factory as KVFactory).store;
    switch (command.toUpperCase()) {
      case 'SET':
        if (key === undefined || rest.length === 0) return this.sendLine('ERR usage: SET key value');
        store.set(key, rest.join(' '));
        return this.sendLine('OK');
      case 'GET': {
        const value = key === undefined ? undefined : store.get(key);
        return this.sendLine(value === undefined ? 'NOT_FOUND' : `VALUE ${value}`);
      }
      case 'DEL':
        return this.sendLine(key !== undefined && store.delete(key) ? 'DELETED' : 'NOT_FOUND');
      case 'KEYS':
        return this.sendLine(`KEYS ${[...store.keys()].join(' ')}`);
      default:
        return this.sendLine(`ERR unknown command '${command}'`);
    }
  }
}

export default new KVFactory();
