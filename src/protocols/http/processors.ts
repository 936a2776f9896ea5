/** Processors of the `http` demo: they run on the worker's piscina pool threads. */
import { threadId } from 'node:worker_threads';

const PREFIX = Buffer.from('Processed: ');

/** What `processBody` returns: the processed body and the pool thread that made it. */
export interface ProcessedBody {
  body: Uint8Array;
  threadId: number;
}

/** `Processed: ` + body (the seed's processing step), with the thread that ran it. */
export function processBody(body: Uint8Array): ProcessedBody {
  return { body: Buffer.concat([PREFIX, body]), threadId };
}
