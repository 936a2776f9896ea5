/** Processors of the `hash` protocol: run on a pool thread, or inline with the `inline` option. */
import { pbkdf2Sync } from 'node:crypto';

/** What `digest` takes: one line's bytes and the number of rounds. */
export interface DigestRequest {
  readonly line: Uint8Array;
  readonly rounds: number;
}

const SALT = 'skein-hash';

/**
 * A deliberately costly digest: PBKDF2-HMAC-SHA256 with `rounds` iterations
 * (each round is two SHA-256 compressions), as hex. The default 8000 rounds
 * take about 1.5 ms of CPU on a current x86 core: the size of work where moving
 * it to a thread pays for the dispatch.
 */
export function digest({ line, rounds }: DigestRequest): string {
  return pbkdf2Sync(line, SALT, rounds, 32, 'sha256').toString('hex');
}
