/**
 * Offload: each line is answered with its digest (processors.ts), computed on the
 * worker's thread pool. `this.reply` keeps the answers in request order even when
 * the tasks finish out of order; a failed task is answered by `replyFailed`.
 *
 *   npx skein serve examples/offload/hasher.ts --port 9000
 *   printf 'a\r\nb\r\n' | nc -q1 localhost 9000
 */
import { Factory, LineReceiver } from 'skein';

export class Hasher extends LineReceiver {
  override lineReceived(line: Buffer): void {
    this.reply(this.offload<string>('digest', line).then((hex) => `${hex}\r\n`));
  }

  override replyFailed(error: unknown): void {
    this.sendLine(`ERR ${(error as { code?: string }).code ?? String(error)}`);
  }
}

export class HasherFactory extends Factory<Hasher> {
  override protocol = Hasher;
  // Next to this module: processors.ts from source (tsx), processors.js once compiled.
  override processors = new URL(`./processors${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
}

export default new HasherFactory();
