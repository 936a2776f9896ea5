/**
 * PROXY protocol v1 and v2 header parsing (HAProxy's spec, "The PROXY protocol",
 * versions 1 and 2). Pure and incremental: feed it the first bytes of a
 * connection until it says `done` or `error`.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Address } from '../protocol/address.js';

/** The 12-byte signature that starts every v2 header. */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** A v1 header is at most 107 bytes including the CRLF. */
export const PROXY_V1_MAX_LENGTH = 107;
/** Longest v2 header we accept: 16 fixed bytes + a 216-byte UNIX address block + TLVs, bounded. */
export const PROXY_V2_MAX_LENGTH = 16 + 4096;

/** Which header versions an endpoint accepts. */
export type ProxyVersion = 'v1' | 'v2' | 'any';

/** One v2 TLV (type-length-value) extension. */
export interface ProxyTlv {
  readonly type: number;
  readonly value: Buffer;
}

/** A parsed header. `source`/`destination` are absent for LOCAL (v2) and UNKNOWN (v1): use the socket's own. */
export interface ProxyHeader {
  readonly version: 1 | 2;
  readonly command: 'PROXY' | 'LOCAL';
  readonly source?: Address;
  readonly destination?: Address;
  readonly tlvs: readonly ProxyTlv[];
}

export type ProxyParseResult =
  | { readonly state: 'incomplete' }
  | { readonly state: 'done'; readonly header: ProxyHeader; readonly rest: Buffer }
  | { readonly state: 'error'; readonly reason: string };

const V1_PREFIX = Buffer.from('PROXY ');
const INCOMPLETE: ProxyParseResult = { state: 'incomplete' };

function error(reason: string): ProxyParseResult {
  return { state: 'error', reason };
}

/**
 * Parses a PROXY header from the start of `data` (all bytes received so far).
 * Returns `incomplete` while more bytes could still make a valid header.
 */
export function parseProxyHeader(data: Buffer, accept: ProxyVersion = 'any'): ProxyParseResult {
  if (data.length === 0) return INCOMPLETE;
  const n = Math.min(data.length, PROXY_V2_SIGNATURE.length);
  const couldBeV2 = data.subarray(0, n).equals(PROXY_V2_SIGNATURE.subarray(0, n));
  const m = Math.min(data.length, V1_PREFIX.length);
  const couldBeV1 = data.subarray(0, m).equals(V1_PREFIX.subarray(0, m));
  if (couldBeV2 && accept !== 'v1') return data.length < 16 ? INCOMPLETE : parseV2(data);
  if (couldBeV1 && accept !== 'v2') return parseV1(data);
  return error(`no PROXY ${accept === 'any' ? 'v1 or v2' : accept} signature`);
}

function parseV1(data: Buffer): ProxyParseResult {
  const lf = data.indexOf(0x0a);
  if (lf < 0) {
    return data.length >= PROXY_V1_MAX_LENGTH ? error('v1 header longer than 107 bytes') : INCOMPLETE;
  }
  if (lf + 1 > PROXY_V1_MAX_LENGTH) return error('v1 header longer than 107 bytes');
  if (lf === 0 || data[lf - 1] !== 0x0d) return error('v1 header must end with CRLF');
  const line = data.subarray(0, lf - 1).toString('latin1');
  if (!/^[\x20-\x7e]*$/.test(line)) return error('v1 header has non-printable characters');
  const parts = line.split(' ');
  const rest = data.subarray(lf + 1);
  if (parts[1] === 'UNKNOWN') return { state: 'done', header: { version: 1, command: 'PROXY', tlvs: [] }, rest };
  if (parts.length !== 6) return error('v1 header must have 6 fields');
  const [, family, srcHost, dstHost, srcPort, dstPort] = parts as [string, string, string, string, string, string];
  if (family !== 'TCP4' && family !== 'TCP6') return error(`v1 unknown protocol '${family}'`);
  const v6 = family === 'TCP6';
  if (!(v6 ? isIPv6(srcHost) && isIPv6(dstHost) : isIPv4(srcHost) && isIPv4(dstHost))) {
    return error(`v1 addresses are not valid ${family} addresses`);
  }
  const sp = parsePort(srcPort);
  const dp = parsePort(dstPort);
  if (sp === undefined || dp === undefined) return error('v1 ports must be decimal 0-65535 without leading zeros');
  const type = v6 ? 'TCP6' : 'TCP';
  return {
    state: 'done',
    header: {
      version: 1,
      command: 'PROXY',
      source: { type, host: srcHost, port: sp },
      destination: { type, host: dstHost, port: dp },
      tlvs: [],
    },
    rest,
  };
}

function parseV2(data: Buffer): ProxyParseResult {
  if (!data.subarray(0, 12).equals(PROXY_V2_SIGNATURE)) return error('bad v2 signature');
  const verCmd = data[12]!;
  if (verCmd >> 4 !== 2) return error(`v2 version nibble must be 2 (got ${verCmd >> 4})`);
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return error(`v2 unknown command ${cmd}`);
  const famProto = data[13]!;
  const length = data.readUInt16BE(14);
  if (16 + length > PROXY_V2_MAX_LENGTH) return error(`v2 header too long (${16 + length} bytes)`);
  if (data.length < 16 + length) return INCOMPLETE;
  const body = data.subarray(16, 16 + length);
  const rest = data.subarray(16 + length);
  const family = famProto >> 4;
  const transport = famProto & 0x0f;
  if (family > 3) return error(`v2 unknown address family ${family}`);
  if (transport > 2) return error(`v2 unknown transport ${transport}`);
  let addrLength = 0;
  let source: Address | undefined;
  let destination: Address | undefined;
  if (family === 1) {
    addrLength = 12;
    if (body.length < addrLength) return error('v2 INET address block truncated');
    source = { type: 'TCP', host: ipv4(body.subarray(0, 4)), port: body.readUInt16BE(8) };
    destination = { type: 'TCP', host: ipv4(body.subarray(4, 8)), port: body.readUInt16BE(10) };
  } else if (family === 2) {
    addrLength = 36;
    if (body.length < addrLength) return error('v2 INET6 address block truncated');
    source = { type: 'TCP6', host: ipv6(body.subarray(0, 16)), port: body.readUInt16BE(32) };
    destination = { type: 'TCP6', host: ipv6(body.subarray(16, 32)), port: body.readUInt16BE(34) };
  } else if (family === 3) {
    addrLength = 216;
    if (body.length < addrLength) return error('v2 UNIX address block truncated');
    source = { type: 'UNIX', path: cString(body.subarray(0, 108)) };
    destination = { type: 'UNIX', path: cString(body.subarray(108, 216)) };
  }
  const tlvs: ProxyTlv[] = [];
  let offset = addrLength;
  while (offset < body.length) {
    if (offset + 3 > body.length) return error('v2 TLV truncated');
    const type = body[offset]!;
    const len = body.readUInt16BE(offset + 1);
    if (offset + 3 + len > body.length) return error('v2 TLV value truncated');
    tlvs.push({ type, value: Buffer.from(body.subarray(offset + 3, offset + 3 + len)) });
    offset += 3 + len;
  }
  if (cmd === 0) return { state: 'done', header: { version: 2, command: 'LOCAL', tlvs }, rest };
  // PROXY with UNSPEC family: the receiver must use the real connection's addresses.
  if (family === 0 || transport === 0) return { state: 'done', header: { version: 2, command: 'PROXY', tlvs }, rest };
  return {
    state: 'done',
    header: { version: 2, command: 'PROXY', ...(source ? { source } : {}), ...(destination ? { destination } : {}), tlvs },
    rest,
  };
}

function parsePort(text: string): number | undefined {
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

/** Parses an IPv6 text address to 16 bytes (to encode test headers), or undefined. */
function ipv6Bytes(text: string): Buffer | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const expand = (list: string[]): number[] | undefined => {
    const out: number[] = [];
    for (let i = 0; i < list.length; i++) {
      const g = list[i]!;
      if (g.includes('.')) {
        if (i !== list.length - 1 || !isIPv4(g)) return undefined;
        const b = g.split('.').map(Number);
        out.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const h = expand(head);
  const t = expand(tail);
  if (!h || !t) return undefined;
  const missing = 8 - h.length - t.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...h, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...t];
  const buf = Buffer.alloc(16);
  all.forEach((g, i) => buf.writeUInt16BE(g, i * 2));
  return buf;
}

function ipv4(bytes: Buffer): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

function ipv6(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function cString(bytes: Buffer): string {
  const nul = bytes.indexOf(0);
  return bytes.subarray(0, nul < 0 ? bytes.length : nul).toString('utf8');
}

/** Builds a v1 header (for tests and clients that speak to skein through a proxy). */
export function encodeProxyV1(source: { host: string; port: number }, destination: { host: string; port: number }): Buffer {
  const family = source.host.includes(':') ? 'TCP6' : 'TCP4';
  return Buffer.from(`PROXY ${family} ${source.host} ${destination.host} ${source.port} ${destination.port}\r\n`, 'latin1');
}

/** Builds a v2 PROXY (or LOCAL) header over TCP/IPv4 or IPv6, with optional TLVs. */
export function encodeProxyV2(
  source?: { host: string; port: number },
  destination?: { host: string; port: number },
  tlvs: readonly ProxyTlv[] = [],
): Buffer {
  const tlvBytes = Buffer.concat(
    tlvs.map((t) => {
      const head = Buffer.alloc(3);
      head[0] = t.type;
      head.writeUInt16BE(t.value.length, 1);
      return Buffer.concat([head, t.value]);
    }),
  );
  let famProto = 0x00;
  let addr = Buffer.alloc(0);
  if (source && destination) {
    const v6 = source.host.includes(':');
    famProto = v6 ? 0x21 : 0x11;
    if (v6) {
      addr = Buffer.alloc(36);
      ipv6Bytes(source.host)!.copy(addr, 0);
      ipv6Bytes(destination.host)!.copy(addr, 16);
      addr.writeUInt16BE(source.port, 32);
      addr.writeUInt16BE(destination.port, 34);
    } else {
      addr = Buffer.alloc(12);
      Buffer.from(source.host.split('.').map(Number)).copy(addr, 0);
      Buffer.from(destination.host.split('.').map(Number)).copy(addr, 4);
      addr.writeUInt16BE(source.port, 8);
      addr.writeUInt16BE(destination.port, 10);
    }
  }
  const head = Buffer.alloc(16);
  PROXY_V2_SIGNATURE.copy(head, 0);
  head[12] = source && destination ? 0x21 : 0x20;
  head[13] = famProto;
  head.writeUInt16BE(addr.length + tlvBytes.length, 14);
  return Buffer.concat([head, addr, tlvBytes]);
}
