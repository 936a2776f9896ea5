import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectUnix } from './helpers/client.js';
import { startServer } from './helpers/server.js';

const WELCOME = 'Welcome to my network application!\r\n';

// Listening has one path (src/shared/net/listen.ts), whoever listens: each worker under
// round-robin, the primary under the other policies. The socket's mode must not depend on which.
describe('unix:PATH:mode=600', () => {
  for (const policy of ['round-robin', 'least-connections', 'client-hash']) {
    it(`gives the socket mode 600 under --balance ${policy}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'skein-mode-'));
      const sock = join(dir, 's.sock');
      const server = await startServer(['processed', '--listen', `unix:${sock}:mode=600`, '--workers', '1', '--metrics-port', '0', '--balance', policy]);
      try {
        expect(statSync(sock).mode & 0o777).toBe(0o600);
        const client = await connectUnix(sock);
        await client.waitFor((t) => t === WELCOME);
        client.end();
      } finally {
        expect(await server.stop()).toBe(0);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
