import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, type SecureContext, type TlsOptions } from 'node:tls';
import { InvalidEndpointError } from '../protocol/errors.js';
import { parseEndpoint, type TlsEndpoint } from './endpoint.js';

function read(path: string, what: string, endpoint: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new InvalidEndpointError(`endpoint '${endpoint}': cannot read ${what} file '${path}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/**
 * Server TLS options for a `tls:` endpoint, with the key/certificate pair
 * loaded and matched into one SecureContext (built once, not per connection).
 * Files are read when this is called: a listener calls it when it starts, so a
 * rolling reload (SIGHUP) picks up renewed certificates, and the primary calls
 * it before it forks or reloads workers, so a bad pair is never served. With
 * `sni=DIR`, `<servername>.key` + `<servername>.crt` pairs in DIR are chosen
 * by SNI; the endpoint's own pair serves clients that send no (or an unknown) name.
 * @throws InvalidEndpointError: one line naming the file and the reason
 * (unreadable, not a key, not a certificate, key and certificate do not match).
 */
export function tlsOptions(endpoint: TlsEndpoint, text: string): TlsOptions {
  const key = read(endpoint.key, 'key', text);
  const cert = read(endpoint.cert, 'cert', text);
  const options: TlsOptions = { secureContext: matchedContext(key, cert, endpoint.key, endpoint.cert, text) };
  if (endpoint.ca) {
    const ca = read(endpoint.ca, 'ca', text);
    try {
      new X509Certificate(ca);
    } catch (error) {
      throw new InvalidEndpointError(`endpoint '${text}': ca file '${endpoint.ca}' is not a PEM certificate (${reason(error)})`);
    }
    options.secureContext = createSecureContext({ key, cert, ca });
    options.requestCert = true;
    options.rejectUnauthorized = true;
  }
  if (endpoint.sni) {
    const contexts = sniContexts(endpoint.sni, text);
    options.SNICallback = (servername, callback) => callback(null, contexts.get(servername.toLowerCase()));
  }
  return options;
}

/**
 * Loads and matches the key/certificate pair of every `tls:` endpoint of `listen`
 * (the primary's check at start-up and before a reload).
 * @throws InvalidEndpointError as {@link tlsOptions}.
 */
export function checkTlsEndpoints(listen: readonly string[]): void {
  for (const text of listen) {
    const endpoint = parseEndpoint(text);
    if (endpoint.kind === 'tls') tlsOptions(endpoint, text);
  }
}

/** A SecureContext for the pair, or an error saying which file is wrong and why. */
function matchedContext(key: Buffer, cert: Buffer, keyPath: string, certPath: string, text: string): SecureContext {
  try {
    return createSecureContext({ key, cert });
  } catch (error) {
    throw new InvalidEndpointError(`endpoint '${text}': ${diagnose(key, cert, keyPath, certPath, error)}`);
  }
}

function diagnose(key: Buffer, cert: Buffer, keyPath: string, certPath: string, error: unknown): string {
  try {
    createSecureContext({ key });
  } catch (keyError) {
    return `key file '${keyPath}' is not a usable private key (${reason(keyError)})`;
  }
  try {
    createSecureContext({ cert });
  } catch (certError) {
    return `cert file '${certPath}' is not a usable certificate (${reason(certError)})`;
  }
  return `key file '${keyPath}' does not match cert file '${certPath}' (${reason(error)})`;
}

/** OpenSSL's reason without its numeric prefix: `error:05800074:x509 certificate routines::key values mismatch` → `key values mismatch`. */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^error:[0-9A-Fa-f]+:[^:]*::?/, '');
}

function sniContexts(dir: string, text: string): Map<string, SecureContext> {
  if (!existsSync(dir)) throw new InvalidEndpointError(`endpoint '${text}': sni folder '${dir}' does not exist`);
  const contexts = new Map<string, SecureContext>();
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.crt')) continue;
    const name = file.slice(0, -4).toLowerCase();
    const keyPath = join(dir, `${file.slice(0, -4)}.key`);
    const certPath = join(dir, file);
    if (!existsSync(keyPath)) throw new InvalidEndpointError(`endpoint '${text}': ${file} in ${dir} has no matching .key file`);
    contexts.set(name, matchedContext(read(keyPath, 'key', text), read(certPath, 'cert', text), keyPath, certPath, text));
  }
  return contexts;
}
