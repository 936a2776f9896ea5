import { CidrList } from './cidr.js';
import { InvalidEndpointError } from '../protocol/errors.js';
import type { ProxyVersion } from './proxy-protocol.js';

/**
 * A server endpoint, parsed from a Twisted-style string:
 * `tcp:9000`, `tcp:9000:interface=127.0.0.1:backlog=511`, `tcp6:9000:interface=\:\:1`,
 * `unix:/run/skein.sock:mode=660`, `tls:9443:key=server.key:cert=server.crt[:ca=ca.crt][:sni=DIR]`.
 * Any of them takes `proxy=v1|v2|any` (expect a PROXY protocol header first); tcp,
 * tcp6 and tls also take `trusted=CIDR[,CIDR]` (who may send one; loopback only by
 * default). A unix endpoint refuses `trusted=`: its peers have no address (its file mode decides).
 * A colon inside a value is escaped as `\:`.
 */
export type Endpoint = TcpEndpoint | TlsEndpoint | UnixEndpoint;

/** PROXY protocol settings of an endpoint. */
export interface ProxyOptions {
  /** Header versions accepted. Absent: no PROXY header expected. */
  readonly proxy?: ProxyVersion;
  /** CIDR ranges allowed to send a header (default loopback only). */
  readonly trusted?: readonly string[];
}

/** `tcp:PORT[:interface=ADDR][:backlog=N]` (`tcp6:` for IPv6 only). */
export interface TcpEndpoint extends ProxyOptions {
  /** `tcp` (IPv4 and IPv6) or `tcp6` (IPv6 only). */
  readonly kind: 'tcp' | 'tcp6';
  /** The port; 0 picks a free one. */
  readonly port: number;
  /** Address to bind; all interfaces when absent. */
  readonly host?: string;
  /** Length of the listen backlog. */
  readonly backlog?: number;
}

/** `tls:PORT:key=FILE:cert=FILE[:ca=FILE][:sni=DIR]`. */
export interface TlsEndpoint extends ProxyOptions {
  /** Always `tls`. */
  readonly kind: 'tls';
  /** The port; 0 picks a free one. */
  readonly port: number;
  /** Address to bind; all interfaces when absent. */
  readonly host?: string;
  /** Length of the listen backlog. */
  readonly backlog?: number;
  /** PEM private key file. */
  readonly key: string;
  /** PEM certificate (chain) file. */
  readonly cert: string;
  /** PEM CA file: when set, clients must present a certificate it signed. */
  readonly ca?: string;
  /** Folder of `<servername>.key` + `<servername>.crt` pairs chosen by SNI. */
  readonly sni?: string;
}

/** `unix:PATH[:mode=660]`. */
export interface UnixEndpoint extends ProxyOptions {
  /** Always `unix`. */
  readonly kind: 'unix';
  /** The socket's path. */
  readonly path: string;
  /** File mode, octal digits as written (`660`). */
  readonly mode?: number;
  /** Length of the listen backlog. */
  readonly backlog?: number;
}

const PROXY_KEYS = ['proxy', 'trusted'] as const;

function parseProxy(kw: Map<string, string>, source: string): ProxyOptions {
  const proxy = kw.get('proxy');
  const trusted = kw.get('trusted');
  if (proxy !== undefined && proxy !== 'v1' && proxy !== 'v2' && proxy !== 'any') {
    throw new InvalidEndpointError(`invalid endpoint '${source}': proxy must be v1, v2 or any (got '${proxy}')`);
  }
  if (trusted !== undefined && proxy === undefined) {
    throw new InvalidEndpointError(`invalid endpoint '${source}': trusted= needs proxy=v1|v2|any`);
  }
  let ranges: string[] | undefined;
  if (trusted !== undefined) {
    ranges = trusted.split(',').filter((r) => r.length > 0);
    try {
      new CidrList(ranges);
    } catch (error) {
      throw new InvalidEndpointError(`invalid endpoint '${source}': ${(error as Error).message}`);
    }
  }
  return { ...(proxy !== undefined ? { proxy } : {}), ...(ranges ? { trusted: ranges } : {}) };
}

/** Splits on unescaped colons; `\:` stands for a literal colon and `[…]` quotes a value holding colons. */
function splitEndpoint(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '[') {
      // [::1] or [::1/128,10.0.0.0/8]: brackets quote a value that holds colons.
      const end = text.indexOf(']', i);
      if (end > i) {
        current += text.slice(i + 1, end);
        i = end;
        continue;
      }
    }
    if (c === '\\' && text[i + 1] === ':') {
      current += ':';
      i++;
    } else if (c === ':') {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

function parsePort(text: string | undefined, source: string): number {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) > 65535) {
    throw new InvalidEndpointError(`invalid endpoint '${source}': port must be an integer 0-65535 (got '${text ?? ''}')`);
  }
  return Number(text);
}

function parseKeywords(parts: string[], allowed: readonly string[], source: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new InvalidEndpointError(`invalid endpoint '${source}': expected key=value, got '${part}'`);
    const key = part.slice(0, eq);
    if (!allowed.includes(key)) {
      throw new InvalidEndpointError(
        `invalid endpoint '${source}': unknown option '${key}' (allowed: ${allowed.join(', ') || 'none'})`,
      );
    }
    out.set(key, part.slice(eq + 1));
  }
  return out;
}

function parseBacklog(value: string | undefined, source: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new InvalidEndpointError(`invalid endpoint '${source}': backlog must be a positive integer (got '${value}')`);
  }
  return Number(value);
}

/**
 * Parses an endpoint string.
 * @throws InvalidEndpointError naming the bad part.
 */
export function parseEndpoint(source: string): Endpoint {
  if (typeof source !== 'string' || source.length === 0) {
    throw new InvalidEndpointError(`invalid endpoint '${String(source)}': empty`);
  }
  const [kind, first, ...rest] = splitEndpoint(source);
  switch (kind) {
    case 'tcp':
    case 'tcp6': {
      const port = parsePort(first, source);
      const kw = parseKeywords(rest, ['interface', 'backlog', ...PROXY_KEYS], source);
      const host = kw.get('interface');
      if (host !== undefined && host.length === 0) {
        throw new InvalidEndpointError(`invalid endpoint '${source}': interface is empty`);
      }
      const backlog = parseBacklog(kw.get('backlog'), source);
      return {
        kind,
        port,
        ...(host !== undefined ? { host } : {}),
        ...(backlog !== undefined ? { backlog } : {}),
        ...parseProxy(kw, source),
      };
    }
    case 'tls': {
      const port = parsePort(first, source);
      const kw = parseKeywords(rest, ['interface', 'backlog', 'key', 'cert', 'ca', 'sni', ...PROXY_KEYS], source);
      const key = kw.get('key');
      const cert = kw.get('cert');
      if (!key || !cert) throw new InvalidEndpointError(`invalid endpoint '${source}': tls needs key=FILE and cert=FILE`);
      const host = kw.get('interface');
      const backlog = parseBacklog(kw.get('backlog'), source);
      const ca = kw.get('ca');
      const sni = kw.get('sni');
      return {
        kind: 'tls',
        port,
        key,
        cert,
        ...(ca ? { ca } : {}),
        ...(sni ? { sni } : {}),
        ...(host ? { host } : {}),
        ...(backlog !== undefined ? { backlog } : {}),
        ...parseProxy(kw, source),
      };
    }
    case 'unix': {
      if (!first) throw new InvalidEndpointError(`invalid endpoint '${source}': unix needs a path`);
      const kw = parseKeywords(rest, ['mode', 'backlog', ...PROXY_KEYS], source);
      const modeText = kw.get('mode');
      if (modeText !== undefined && !/^[0-7]{3,4}$/.test(modeText)) {
        throw new InvalidEndpointError(`invalid endpoint '${source}': mode must be octal like 660 (got '${modeText}')`);
      }
      const backlog = parseBacklog(kw.get('backlog'), source);
      if (kw.has('trusted')) {
        // A unix socket's peer has no address to check: trusted= would be silently ignored.
        throw new InvalidEndpointError(
          `invalid endpoint '${source}': trusted= cannot apply to a unix endpoint (its peers have no address); limit who may connect with mode= instead`,
        );
      }
      return {
        kind: 'unix',
        path: first,
        ...(modeText !== undefined ? { mode: parseInt(modeText, 8) } : {}),
        ...(backlog !== undefined ? { backlog } : {}),
        ...parseProxy(kw, source),
      };
    }
    default:
      throw new InvalidEndpointError(`invalid endpoint '${source}': unknown type '${kind}' (expected tcp, tcp6, tls or unix)`);
  }
}

/** The string form of an endpoint; it parses back to the same endpoint. */
export function formatEndpoint(endpoint: Endpoint): string {
  const esc = (v: string) => v.replace(/:/g, '\\:');
  const parts: string[] = [endpoint.kind === 'unix' ? `unix:${esc(endpoint.path)}` : `${endpoint.kind}:${endpoint.port}`];
  if (endpoint.kind !== 'unix' && endpoint.host !== undefined) parts.push(`interface=${esc(endpoint.host)}`);
  if (endpoint.kind === 'unix' && endpoint.mode !== undefined) parts.push(`mode=${endpoint.mode.toString(8)}`);
  if (endpoint.backlog !== undefined) parts.push(`backlog=${endpoint.backlog}`);
  if (endpoint.kind === 'tls') {
    parts.push(`key=${esc(endpoint.key)}`, `cert=${esc(endpoint.cert)}`);
    if (endpoint.ca) parts.push(`ca=${esc(endpoint.ca)}`);
    if (endpoint.sni) parts.push(`sni=${esc(endpoint.sni)}`);
  }
  if (endpoint.proxy) parts.push(`proxy=${endpoint.proxy}`);
  if (endpoint.trusted) parts.push(`trusted=${esc(endpoint.trusted.join(","))}`);
  return parts.join(':');
}

/** The same endpoint with its port replaced (used to pin a port-0 listener to the port it got). */
export function withPort(endpoint: Endpoint, port: number): Endpoint {
  return endpoint.kind === 'unix' ? endpoint : { ...endpoint, port };
}
