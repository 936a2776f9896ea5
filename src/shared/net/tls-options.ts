import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, type SecureContext, type TlsOptions } from 'node:tls';
import { InvalidEndpointError } from '../protocol/errors.js';
import type { TlsEndpoint } from './endpoint.js';

function read(path: string, what: string, endpoint: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new InvalidEndpointError(`endpoint '${endpoint}': cannot read ${what} file '${path}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/**
 * Server TLS options for a `tls:` endpoint. Files are read when a listener starts,
 * so a rolling reload (SIGHUP) picks up renewed certificates. With `sni=DIR`,
 * `<servername>.key` + `<servername>.crt` pairs in DIR are chosen by SNI; the
 * endpoint's own key/cert serve clients that send no (or an unknown) name.
 * @throws InvalidEndpointError naming the unreadable file.
 */
export function tlsOptions(endpoint: TlsEndpoint, text: string): TlsOptions {
  const options: TlsOptions = {
    key: read(endpoint.key, 'key', text),
    cert: read(endpoint.cert, 'cert', text),
  };
  if (endpoint.ca) {
    options.ca = read(endpoint.ca, 'ca', text);
    options.requestCert = true;
    options.rejectUnauthorized = true;
  }
  if (endpoint.sni) {
    const contexts = sniContexts(endpoint.sni, text);
    options.SNICallback = (servername, callback) => callback(null, contexts.get(servername.toLowerCase()));
  }
  return options;
}

function sniContexts(dir: string, text: string): Map<string, SecureContext> {
  if (!existsSync(dir)) throw new InvalidEndpointError(`endpoint '${text}': sni folder '${dir}' does not exist`);
  const contexts = new Map<string, SecureContext>();
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.crt')) continue;
    const name = file.slice(0, -4).toLowerCase();
    const keyPath = join(dir, `${file.slice(0, -4)}.key`);
    if (!existsSync(keyPath)) throw new InvalidEndpointError(`endpoint '${text}': ${file} in ${dir} has no matching .key file`);
    contexts.set(name, createSecureContext({ cert: readFileSync(join(dir, file)), key: readFileSync(keyPath) }));
  }
  return contexts;
}
