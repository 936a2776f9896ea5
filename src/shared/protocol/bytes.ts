/**
 * A plain `Uint8Array` (what structured cloning makes of a Buffer, or what a
 * user hands in) as a Buffer over the same memory, no copy; anything else
 * (a Buffer, a string, another value) as it is.
 */
export function asBuffer<T>(value: T): Exclude<T, Uint8Array> | Buffer {
  return (value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value) as
    | Exclude<T, Uint8Array>
    | Buffer;
}

/**
 * Offload payloads and results that are bytes, from this size up, cross to and
 * from a pool thread as one copy moved (transferred) rather than
 * structured-cloned (copied twice): an offloaded 64 KiB read costs one copy
 * each way, not two.
 */
export const MOVE_AT_LEAST = 4096;
