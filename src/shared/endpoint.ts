import { InvalidEndpointError } from './errors.js';

/**
 * A server endpoint, parsed from a Twisted-style string:
 * `tcp:9000`, `tcp:9000:interface=127.0.0.1:backlog=511`, `tcp6:9000:interface=\:\:1`,
 * `unix:/run/skein.sock:mode=660`. A colon inside a value is escaped as `\:`.
 */
export type Endpoint = TcpEndpoint | UnixEndpoint;

export interface TcpEndpoint {
  readonly kind: 'tcp' | 'tcp6';
  readonly port: number;
  /** Address to bind; all interfaces when absent. */
  readonly host?: string;
  readonly backlog?: number;
}

export interface UnixEndpoint {
  readonly kind: 'unix';
  readonly path: string;
  /** File mode, octal digits as written (`660`). */
  readonly mode?: number;
  readonly backlog?: number;
}

/** Splits on unescaped colons; `\:` stands for a literal colon. */
function splitEndpoint(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
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
      const kw = parseKeywords(rest, ['interface', 'backlog'], source);
      const host = kw.get('interface');
      if (host !== undefined && host.length === 0) {
        throw new InvalidEndpointError(`invalid endpoint '${source}': interface is empty`);
      }
      const backlog = parseBacklog(kw.get('backlog'), source);
      return { kind, port, ...(host !== undefined ? { host } : {}), ...(backlog !== undefined ? { backlog } : {}) };
    }
    case 'unix': {
      if (!first) throw new InvalidEndpointError(`invalid endpoint '${source}': unix needs a path`);
      const kw = parseKeywords(rest, ['mode', 'backlog'], source);
      const modeText = kw.get('mode');
      if (modeText !== undefined && !/^[0-7]{3,4}$/.test(modeText)) {
        throw new InvalidEndpointError(`invalid endpoint '${source}': mode must be octal like 660 (got '${modeText}')`);
      }
      const backlog = parseBacklog(kw.get('backlog'), source);
      return {
        kind: 'unix',
        path: first,
        ...(modeText !== undefined ? { mode: parseInt(modeText, 8) } : {}),
        ...(backlog !== undefined ? { backlog } : {}),
      };
    }
    default:
      throw new InvalidEndpointError(`invalid endpoint '${source}': unknown type '${kind}' (expected tcp, tcp6 or unix)`);
  }
}

/** The string form of an endpoint (a port 0 endpoint shows the port it got once known). */
export function formatEndpoint(endpoint: Endpoint): string {
  if (endpoint.kind === 'unix') return `unix:${endpoint.path}`;
  const host = endpoint.host === undefined ? '' : `:interface=${endpoint.host.replace(/:/g, '\\:')}`;
  return `${endpoint.kind}:${endpoint.port}${host}`;
}

/** The same endpoint with its port replaced (used to pin a port-0 listener to the port it got). */
export function withPort(endpoint: Endpoint, port: number): Endpoint {
  return endpoint.kind === 'unix' ? endpoint : { ...endpoint, port };
}
