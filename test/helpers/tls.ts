/** Generates a throwaway CA and server certificate with openssl, for TLS tests. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  caCert: string;
  key: string;
  cert: string;
  /** The CA certificate's PEM text, for a verifying client. */
  caPem: Buffer;
}

/** A CA, and a server key+cert for `localhost` / 127.0.0.1 signed by it. */
export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'skein-tls-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=skein test CA');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  const ext = join(dir, 'ext.cnf');
  execFileSync('sh', ['-c', `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ${ext}`]);
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', ext);
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    key: join(dir, 'server.key'),
    cert: join(dir, 'server.crt'),
    caPem: readFileSync(join(dir, 'ca.crt')),
  };
}

/** A folder with `<name>.key` + `<name>.crt` pairs signed by `certs`' CA, for `sni=DIR`. */
export function makeSniDir(certs: TestCerts, names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'skein-sni-'));
  for (const name of names) {
    const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    execFileSync('sh', ['-c', `printf 'subjectAltName=DNS:${name}\\n' > ${name}.ext`], { cwd: dir });
    run('x509', '-req', '-in', `${name}.csr`, '-CA', certs.caCert, '-CAkey', join(certs.dir, 'ca.key'), '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  }
  return dir;
}
