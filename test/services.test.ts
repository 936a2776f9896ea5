import { once } from 'node:events';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connectClient, scrape, sumSeries } from './helpers/client.js';
import { eventually, freePort, startServer } from './helpers/server.js';
import { makeCerts, makeSniDir } from './helpers/tls.js';

const PEER_ECHO = fileURLToPath(new URL('./fixtures/peer-echo.ts', import.meta.url));
const WELCOME = 'Welcome to my network application!\r\n';

describe('several services and endpoint types in one server', () => {
  it('serves processed on tcp and tcp6, and a .ts module on a unix socket, from one config file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-cfg-'));
    const sock = join(dir, 'echo.sock');
    const config = join(dir, 'skein.json');
    writeFileSync(
      config,
      JSON.stringify({
        workers: 2,
        metricsPort: await freePort(),
        services: [
          { name: 'processed', protocol: 'processed', listen: ['tcp:0:interface=127.0.0.1', 'tcp6:0:interface=[::1]'] },
          { name: 'echo', protocol: PEER_ECHO, listen: [`unix:${sock}:mode=600`] },
        ],
      }),
    );
    const server = await startServer(['--config', config]);
    try {
      expect(server.endpoints.map((e) => e.service)).toEqual(['processed', 'processed', 'echo']);
      const v4 = await connectClient(server.endpoints[0]!.port!, '127.0.0.1');
      await v4.waitFor((t) => t === WELCOME);
      const v6 = await connectClient(server.endpoints[1]!.port!, '::1');
      await v6.waitFor((t) => t === WELCOME);
      expect(statSync(sock).mode & 0o777).toBe(0o600);
      const unix = connect(sock);
      await once(unix, 'connect');
      let text = '';
      unix.on('data', (c: Buffer) => (text += c.toString()));
      await eventually(() => text.startsWith('peer unix:'));
      const metrics = await eventually(async () => {
        const m = await scrape(server.metricsPort!);
        return sumSeries(m, 'skein_connections_active') === 3 ? m : undefined;
      });
      expect(sumSeries(metrics, 'skein_connections_active', 'protocol="processed"')).toBe(2);
      expect(sumSeries(metrics, 'skein_connections_active', 'protocol="echo"')).toBe(1);
      v4.end();
      v6.end();
      unix.end();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('tls: with an SNI folder', () => {
  it('picks the certificate by server name', async () => {
    const certs = makeCerts();
    const sni = makeSniDir(certs, ['alpha.test', 'beta.test']);
    const server = await startServer([
      PEER_ECHO,
      '--listen',
      `tls:0:interface=127.0.0.1:key=${certs.key}:cert=${certs.cert}:sni=${sni}`,
      '--workers',
      '1',
      '--metrics-port',
      '0',
    ]);
    try {
      for (const name of ['alpha.test', 'beta.test', 'localhost']) {
        const socket = tlsConnect({ host: '127.0.0.1', port: server.port, ca: certs.caPem, servername: name });
        await once(socket, 'secureConnect');
        expect(socket.authorized).toBe(true);
        expect(socket.getPeerCertificate().subject.CN).toBe(name);
        socket.destroy();
      }
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
