/**
 * `hash`: a CPU-heavy example. Each line (LF or CRLF terminated) is answered
 * with a costly digest of it (PBKDF2-SHA256, `rounds` iterations, hex) on its
 * own line. The digest runs on the worker's offload pool by default, so the
 * worker's event loop stays free for other connections and services; the
 * service option `inline` runs it on the event loop instead, for comparison.
 *
 * Service options: `rounds` (default 8000, about 1.5 ms), `inline` (default false).
 * Errors are answered in order as `ERR <code> <message>`; the connection stays open
 * (a line over 16384 bytes closes it).
 */
import { ownModule } from '../shared/config/loader.js';
import { errorCode, InvalidOptionError, LineTooLongError } from '../shared/protocol/errors.js';
import { Factory } from '../shared/protocol/factory.js';
import { LineReceiver } from '../shared/protocol/framing/line-receiver.js';
import { digest, type DigestRequest } from './hash-processors.js';

/** Default PBKDF2 iterations per line. */
export const DEFAULT_ROUNDS = 8000;
/** Longest line accepted, in bytes (Twisted's LineReceiver default). */
export const MAX_LINE = 16384;

export class HashProtocol extends LineReceiver {
  declare factory: HashFactory;
  override acceptBareLF = true;
  override maxLength = MAX_LINE;

  /** An over-long line is answered in its place, in order, and then the connection closes. */
  override lineLengthExceeded(): void {
    this.reply(Promise.reject(new LineTooLongError(`line exceeds ${MAX_LINE} bytes`)));
    this.transport.pauseProducing();
  }

  /** Answers one line, in order. */
  override lineReceived(line: Buffer): void {
    const { rounds, inline } = this.factory.settings;
    // A copy: a view of the read buffer would be cloned to the thread with the whole buffer.
    const request: DigestRequest = { line: new Uint8Array(line), rounds };
    if (inline) this.reply(`${digest(request)}\n`);
    else this.reply(this.offload<string>('digest', request).then((hex) => `${hex}\n`));
  }

  /** A failed digest (queue full under `--pool-overload reject`, cancelled, thread died) is answered in its place. */
  override replyFailed(error: unknown): void {
    if (!this.connected) return;
    this.transport.write(`ERR ${errorCode(error)} ${(error as Error).message ?? String(error)}\n`);
    // Replies before it have gone out: now close.
    if (error instanceof LineTooLongError) this.transport.loseConnection();
  }
}

/** The factory `skein serve hash` runs. */
export class HashFactory extends Factory<HashProtocol> {
  override protocol = HashProtocol;
  override processors = ownModule('./hash-processors', import.meta.url);

  /** The service options, validated. */
  get settings(): { rounds: number; inline: boolean } {
    return (this.validated ??= validate(this.options));
  }

  private validated: { rounds: number; inline: boolean } | undefined;

  override startFactory(): void {
    this.validated = validate(this.options);
  }
}

function validate(options: Readonly<Record<string, unknown>>): { rounds: number; inline: boolean } {
  const rounds = options.rounds ?? DEFAULT_ROUNDS;
  if (typeof rounds !== 'number' || !Number.isInteger(rounds) || rounds < 1) {
    throw new InvalidOptionError(`hash: option 'rounds' must be a positive integer (got ${JSON.stringify(rounds)})`);
  }
  const inline = options.inline ?? false;
  if (typeof inline !== 'boolean') throw new InvalidOptionError(`hash: option 'inline' must be true or false (got ${JSON.stringify(inline)})`);
  return { rounds, inline };
}

export default new HashFactory();
