/**
 * Processors: functions the pool threads run, away from the worker's event loop.
 * Each gets the payload (structured-cloned: a Buffer arrives as a Uint8Array or
 * Buffer) and a context whose `signal` aborts when the task is cancelled (its
 * connection was lost). A long processor checks it and stops early.
 */
import { createHash } from 'node:crypto';
import type { ProcessorContext } from 'skein';

/** Rounds of SHA-256: about 10 ms of CPU here, the kind of step worth a thread. */
export const ROUNDS = 20_000;

/** SHA-256 applied ROUNDS times to `line`, in hex; throws the abort reason once cancelled. */
export function digest(line: Uint8Array, { signal }: ProcessorContext): string {
  let hash: Uint8Array = line;
  for (let i = 0; i < ROUNDS; i++) {
    if (i % 1000 === 0) signal.throwIfAborted();
    hash = createHash('sha256').update(hash).digest();
  }
  return Buffer.from(hash).toString('hex');
}
