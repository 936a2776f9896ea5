/** Processors of the `processed` protocol: run inline, or on a pool thread with `--offload`. */

const PREFIX = Buffer.from('Processed: ');

/** `Processed: ` + data. */
export function processData(data: Uint8Array): Buffer {
  return Buffer.concat([PREFIX, data]);
}
