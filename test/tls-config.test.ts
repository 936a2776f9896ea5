/**
 * Issue 15, case 1: a `tls:` key/certificate pair is loaded and matched before
 * it is served (start-up and SIGHUP reload), and nothing a TLS client sends
 * crashes a worker.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeCerts, type TestCerts } from './helpers/tls.js';
import { runToExit, startServer } from './helpers/server.js';

let certs: TestCerts;
let garbageKey: string;
let otherKey: string;

beforeAll(() => {
  certs = makeCerts();
  garbageKey = join(certs.dir, 'garbage.key');
  writeFileSync(garbageKey, 'this is not a key\n');
  otherKey = join(certs.dir, 'other.key');
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', otherKey], { stdio: 'pipe' });
});

async function tlsLine(port: number, line: string): Promise<string> {
  const socket = tlsConnect({ host: '127.0.0.1', port, ca: certs.caPem, servername: 'localhost' });
  await once(socket, 'secureConnect');
  socket.write(`${line}\n`);
  let text = '';
  for await (const chunk of socket) {
    text += (chunk as Buffer).toString();
    if (text.includes('\n')) break;
  }
  socket.destroy();
  return text;
}

describe('tls: a bad key/certificate pair', () => {
  it.each([
    ['a key file that is not a key', () => garbageKey, /key file '.*garbage\.key' is not a usable private key/],
    ['a key that does not match the certificate', () => otherKey, /key file '.*other\.key' does not match cert file '.*server\.crt' \(key values mismatch\)/],
  ])('refuses to start with %s: one line naming the file and the reason, exit 1', async (_name, key, message) => {
    const { code, stdout, stderr } = await runToExit(['serve', 'lines', '--listen', `tls:0:key=${key()}:cert=${certs.cert}`, '--workers', '1', '--metrics-port', '0']);
    expect(code).toBe(1);
    expect(stdout).not.toMatch(/skein ready/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(message);
  });

  it('on SIGHUP with a mismatched renewed pair keeps the old workers serving and logs why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-badrenew-'));
    const key = join(dir, 'server.key');
    const cert = join(dir, 'server.crt');
    copyFileSync(certs.key, key);
    copyFileSync(certs.cert, cert);
    const server = await startServer(['lines', '--listen', `tls:0:interface=127.0.0.1:key=${key}:cert=${cert}`, '--workers', '1', '--metrics-port', '0']);
    try {
      copyFileSync(otherKey, key); // a renewal gone wrong: the new key, the old certificate
      process.kill(server.child.pid!, 'SIGHUP');
      const refused = await server.waitForLog((l) => String(l.msg).startsWith('reload refused'), 30_000);
      expect(refused.msg).toMatch(/does not match cert file/);
      expect(server.output()).not.toMatch(/reload complete/);
      expect(await tlsLine(server.port, 'still here')).toBe('Processed: still here\r\n');
      expect(server.output()).not.toMatch(/exited \(/);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('tls: hostile clients', () => {
  it('garbage, a plain-text request and abandoned handshakes cost only their own connections', async () => {
    const server = await startServer(['lines', '--listen', `tls:0:interface=127.0.0.1:key=${certs.key}:cert=${certs.cert}`, '--workers', '1', '--metrics-port', '0']);
    try {
      const hostile = [
        Buffer.alloc(64 * 1024, 0x16), // record headers with nonsense lengths
        Buffer.from('\x16\x03\x01\x00\x05hello'), // a truncated ClientHello
        Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'),
        Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131) % 256)),
      ];
      for (const bytes of hostile) {
        const socket = connect({ host: '127.0.0.1', port: server.port });
        socket.on('error', () => {});
        await once(socket, 'connect');
        socket.end(bytes);
        // The server may wait for the rest of a handshake: do not wait for it.
        await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 500))]);
        socket.destroy();
      }
      expect(await tlsLine(server.port, 'after')).toBe('Processed: after\r\n');
      expect(server.output()).not.toMatch(/exited \(/);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
