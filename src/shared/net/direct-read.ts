/**
 * Reading a plain TCP or Unix socket without its Readable stream: libuv reads
 * into one buffer the process shares, and each read's bytes are copied into a
 * Buffer of their own size and handed to the callback.
 *
 * This is node's own mechanism for `net.connect({ onread })` (the socket's
 * `kBuffer` / `kBufferCb` slots and `useUserBuffer` on its handle), applied to
 * accepted sockets, which node offers no option for. It saves, per read, the
 * 64 KiB allocation node makes for a stream read and the stream's bookkeeping
 * (`push`, `'data'`, `maybeReadMore`, a tick). Pausing stops the handle from
 * reading (node's `pause()` does so for these sockets), so a paused connection
 * holds no read in a stream buffer either. End of stream, errors and socket
 * timeouts go through node's path unchanged.
 *
 * Each delivered chunk is the receiver's own (a copy): protocols may keep it,
 * as with a stream read. A receiver that copies what it keeps (`lend`) is
 * handed the shared buffer itself, valid until its callback returns: a flood
 * of 64 KiB reads then allocates nothing, where a copy per read leaves one
 * 64 KiB ArrayBuffer of garbage per read, outside the heap V8 sizes its
 * collections by. Sockets it cannot apply to (TLS, a socket that already has
 * bytes buffered, a node without the slots) keep the stream path.
 */
import type { Socket } from 'node:net';

/** libuv's default read size, as node uses. */
const READ_SIZE = 64 * 1024;

interface Slots {
  readonly buffer: symbol;
  readonly callback: symbol;
}

let slots: Slots | null | undefined;
let shared: Buffer | undefined;

/** node's private `kBuffer` / `kBufferCb` symbols, found once on a socket by their descriptions. */
function slotsOf(socket: Socket): Slots | null {
  if (slots !== undefined) return slots;
  const find = (name: string) => Object.getOwnPropertySymbols(socket).find((s) => s.description === name);
  const buffer = find('kBuffer');
  const callback = find('kBufferCb');
  slots = buffer && callback ? { buffer, callback } : null;
  return slots;
}

interface StreamHandle {
  readonly constructor: { readonly name: string };
  useUserBuffer?: (buffer: Uint8Array) => void;
}

/**
 * Routes `socket`'s reads to `onChunk` without the stream, if it can; returns
 * false (and changes nothing) when the socket must be read as a stream. With
 * `lend`, each chunk is a view of the shared buffer, overwritten by the next
 * read of any socket: `onChunk` must copy whatever it keeps.
 */
export function readDirect(socket: Socket, onChunk: (chunk: Buffer) => void, lend = false): boolean {
  const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
  if (!handle || typeof handle.useUserBuffer !== 'function') return false;
  const kind = handle.constructor.name;
  if (kind !== 'TCP' && kind !== 'Pipe') return false;
  if (socket.readableLength !== 0 || socket.readableEnded) return false;
  const s = slotsOf(socket);
  if (s === null) return false;
  const record = socket as unknown as Record<symbol, unknown>;
  if (record[s.buffer] !== null) return false;
  shared ??= Buffer.allocUnsafeSlow(READ_SIZE);
  const buffer = shared;
  record[s.buffer] = buffer;
  record[s.callback] = lend
    ? (nread: number) => onChunk(buffer.subarray(0, nread))
    : (nread: number) => {
        // A copy of the bytes read: the shared buffer is overwritten by the next read, of any socket.
        onChunk(Buffer.from(buffer.subarray(0, nread)));
      };
  handle.useUserBuffer(buffer);
  return true;
}

/** True when `socket`'s reads bypass its stream ({@link readDirect} applied): for tests and diagnostics. */
export function readsDirectly(socket: Socket): boolean {
  const s = slotsOf(socket);
  return s !== null && (socket as unknown as Record<symbol, unknown>)[s.buffer] === shared && shared !== undefined;
}
