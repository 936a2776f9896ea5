/**
 * WebSocket frames (RFC 6455 §5): opcodes, close codes, and the encoder.
 * The server sends unmasked frames; a client (skein load, tests) masks its own.
 */
import { randomFillSync } from 'node:crypto';

/** Frame opcodes (RFC 6455 §5.2). */
export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Control frames carry at most this many payload bytes (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;
/** A close reason fits a control frame after its 2-byte code. */
export const MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2;

/** Close codes skein sends or reports (RFC 6455 §7.4.1). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_NO_STATUS = 1005;
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_INVALID_PAYLOAD = 1007;
export const CLOSE_MESSAGE_TOO_BIG = 1009;
export const CLOSE_INTERNAL_ERROR = 1011;

/**
 * True for a code an endpoint may put in a Close frame: 1000-1003, 1007-1014
 * (1004 is reserved; 1005, 1006 and 1015 are never sent), and 3000-4999
 * (registered and private use).
 */
export function isSendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

/**
 * XORs `data[start..end)` with the masking key (4 bytes, as a big-endian
 * 32-bit number), in place, starting at key byte `phase` (a payload that
 * arrives in pieces continues where the last piece stopped). Returns the
 * phase after the last byte.
 */
export function applyMask(data: Buffer, start: number, end: number, mask: number, phase: number): number {
  const shift = (phase & 3) * 8;
  // Rotate the key so that its first byte is the one for data[start].
  const key = shift === 0 ? mask : ((mask << shift) | (mask >>> (32 - shift))) >>> 0;
  const m0 = key >>> 24;
  const m1 = (key >>> 16) & 0xff;
  const m2 = (key >>> 8) & 0xff;
  const m3 = key & 0xff;
  let i = start;
  const fours = end - ((end - start) & 3);
  for (; i < fours; i += 4) {
    data[i] = data[i]! ^ m0;
    data[i + 1] = data[i + 1]! ^ m1;
    data[i + 2] = data[i + 2]! ^ m2;
    data[i + 3] = data[i + 3]! ^ m3;
  }
  if (i < end) data[i] = data[i++]! ^ m0;
  if (i < end) data[i] = data[i++]! ^ m1;
  if (i < end) data[i] = data[i]! ^ m2;
  return (phase + (end - start)) & 3;
}

/** Bytes of a frame header for a payload of `length` bytes (masked: 4 more). */
export function headerSize(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/** Writes a frame header at `out[0..]` and returns its size. */
function writeHeader(out: Buffer, opcode: number, length: number, fin: boolean, rsv1: boolean, mask: Buffer | undefined): number {
  out[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = mask ? 0x80 : 0;
  let at: number;
  if (length < 126) {
    out[1] = maskBit | length;
    at = 2;
  } else if (length < 0x10000) {
    out[1] = maskBit | 126;
    out.writeUInt16BE(length, 2);
    at = 4;
  } else {
    out[1] = maskBit | 127;
    out.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    out.writeUInt32BE(length >>> 0, 6);
    at = 10;
  }
  if (mask) {
    mask.copy(out, at, 0, 4);
    at += 4;
  }
  return at;
}

/** Payloads up to this size are copied behind their header (one buffer, one write); larger ones are sent as header + payload. */
const COPY_LIMIT = 16 * 1024;

/**
 * Encodes one frame. Returns one buffer (header and payload together) for a
 * small or masked payload, or `[header, payload]` for a large unmasked one,
 * so a big message is never copied. `mask` (4 bytes) masks a copy of the
 * payload, as a client must.
 */
export function encodeFrame(opcode: number, payload: Buffer, fin = true, rsv1 = false, mask?: Buffer): Buffer | [Buffer, Buffer] {
  const length = payload.length;
  const size = headerSize(length, mask !== undefined);
  if (length > COPY_LIMIT && !mask) {
    const header = Buffer.allocUnsafe(size);
    writeHeader(header, opcode, length, fin, rsv1, undefined);
    return [header, payload];
  }
  const out = Buffer.allocUnsafe(size + length);
  const at = writeHeader(out, opcode, length, fin, rsv1, mask);
  payload.copy(out, at);
  if (mask) applyMask(out, at, at + length, mask.readUInt32BE(0), 0);
  return out;
}

/** Encodes a control frame (its payload is at most 125 bytes, so always one buffer). */
export function encodeControl(opcode: number, payload: Buffer): Buffer {
  return encodeFrame(opcode, payload) as Buffer;
}

/** Encodes a frame whose payload is a string, without an intermediate buffer when it is small. */
export function encodeTextFrame(opcode: number, text: string, fin = true, mask?: Buffer): Buffer | [Buffer, Buffer] {
  // A UTF-8 string takes at most 3 bytes per UTF-16 unit.
  if (text.length * 3 > COPY_LIMIT) return encodeFrame(opcode, Buffer.from(text), fin, false, mask);
  const length = Buffer.byteLength(text);
  const size = headerSize(length, mask !== undefined);
  const out = Buffer.allocUnsafe(size + length);
  const at = writeHeader(out, opcode, length, fin, false, mask);
  out.write(text, at);
  if (mask) applyMask(out, at, at + length, mask.readUInt32BE(0), 0);
  return out;
}

/** The payload of a Close frame: the code (2 bytes, big-endian) and the UTF-8 reason. */
export function closePayload(code: number | undefined, reason = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const out = Buffer.allocUnsafe(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

/** A fresh random 4-byte masking key (clients must use an unpredictable one, RFC 6455 §5.3). */
export function newMask(): Buffer {
  return randomFillSync(Buffer.allocUnsafe(4));
}
