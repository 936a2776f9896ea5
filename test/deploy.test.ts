/**
 * The container image cannot be built here (no Docker engine), so this repeats the
 * Dockerfile's runtime stage by hand: `npm ci --omit=dev` into a fresh folder with
 * dist/ and config/, then serve a .ts protocol module that imports 'skein'.
 * It also checks that the Kubernetes manifests' probe paths answer on a real server.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient } from './helpers/client.js';
import { freePort, ROOT, startServer } from './helpers/server.js';

describe('the Dockerfile runtime stage, by hand', () => {
  it('npm ci --omit=dev, then serve a .ts module importing skein', async () => {
    const app = mkdtempSync(join(tmpdir(), 'skein-image-'));
    for (const f of ['package.json', 'package-lock.json']) cpSync(join(ROOT, f), join(app, f));
    cpSync(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'config'), join(app, 'config'), { recursive: true });
    execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, stdio: 'pipe', timeout: 240_000 });
    writeFileSync(
      join(app, 'greeter.ts'),
      `import { Protocol } from 'skein';
export default class Greeter extends Protocol {
  override connectionMade(): void { this.transport.write('hello from the image\\n'); }
}
`,
    );
    const server = await startServer(['./greeter.ts', '--port', '0', '--workers', '1', '--metrics-port', '0'], {
      cwd: app,
      cli: join(app, 'dist/cli.js'),
    });
    try {
      const c = await connectClient(server.port);
      await c.waitFor((t) => t === 'hello from the image\n');
      c.end();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 300_000);
});

describe('deployment manifests', () => {
  it("the Deployment's probe paths and metrics port answer on a real server", async () => {
    const manifest = readFileSync(join(ROOT, 'deploy/k8s/deployment.yaml'), 'utf8');
    const paths = [...manifest.matchAll(/path: (\/\w+)/g)].map((m) => m[1]!);
    expect(paths).toEqual(expect.arrayContaining(['/readyz', '/healthz', '/metrics']));
    const metricsPort = await freePort();
    const server = await startServer(['processed', '--port', '0', '--workers', '1', '--metrics-port', String(metricsPort)]);
    try {
      for (const path of paths) expect((await fetch(`http://127.0.0.1:${metricsPort}${path}`)).status).toBe(200);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
