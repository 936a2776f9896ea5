/**
 * Client-side WebSocket bytes for tests: upgrade requests, masked frames,
 * and a decoder of what a server wrote (its 101 head, then its frames).
 */
import { FrameParser } from '../../src/protocols/websocket/frame-parser.js';
import { closePayload, encodeFrame } from '../../src/protocols/websocket/frame.js';

export const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** An upgrade request; `headers` add or replace fields (a value of undefined removes one). */
export function upgradeRequest(headers: Record<string, string | undefined> = {}, path = '/chat', method = 'GET'): string {
  const fields: Record<string, string | undefined> = {
    Host: 'example.test',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': KEY,
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  let out = `${method} ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out += `${k}: ${v}\r\n`;
  return out + '\r\n';
}

export interface FrameSpec {
  fin?: boolean;
  rsv1?: boolean;
  /** Raw RSV2/RSV3 bits (0x20, 0x10). */
  rsv?: number;
  mask?: boolean;
}

/** One frame as a client sends it (masked unless `mask: false`). */
export function clientFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), spec: FrameSpec = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const encoded = encodeFrame(opcode, data, spec.fin ?? true, spec.rsv1 ?? false, spec.mask === false ? undefined : MASK);
  const frame = Array.isArray(encoded) ? Buffer.concat(encoded) : Buffer.from(encoded);
  if (spec.rsv) frame[0] = frame[0]! | spec.rsv;
  return frame;
}

/** A client Close frame. */
export function clientClose(code?: number, reason = ''): Buffer {
  return clientFrame(0x8, closePayload(code, reason));
}

export interface DecodedFrame {
  opcode: number;
  fin: boolean;
  rsv1: boolean;
  payload: Buffer;
}

/** What a server wrote: the HTTP head (if any) and the frames after it. */
export function decodeServer(bytes: Buffer): { head: string; frames: DecodedFrame[]; error?: string } {
  const end = bytes.indexOf('\r\n\r\n');
  const head = bytes.subarray(0, 5).toString() === 'HTTP/' && end >= 0 ? bytes.subarray(0, end + 4).toString('latin1') : '';
  const frames: DecodedFrame[] = [];
  let error: string | undefined;
  const parser = new FrameParser(
    {
      frame: (opcode, fin, rsv1, payload) => frames.push({ opcode, fin, rsv1, payload: Buffer.from(payload) }),
      fail: (e) => (error = e.message),
    },
    { maxMessageBytes: 1 << 30, expectMasked: false, rsv1Allowed: true },
  );
  parser.push(Buffer.from(bytes.subarray(head.length)));
  return { head, frames, ...(error ? { error } : {}) };
}

/** The close code of a Close frame's payload (1005 for an empty one). */
export function closeCodeOf(frame: DecodedFrame | undefined): number | undefined {
  if (!frame || frame.opcode !== 0x8) return undefined;
  return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
}
