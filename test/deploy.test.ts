/**
 * The container image cannot be built here (no Docker engine), so this repeats the
 * Dockerfile's app stage by hand: a fresh folder with the app's package.json, skein
 * installed from the packed tarball with `npm install --omit=dev`, the examples copied
 * in, and its ENTRYPOINT + CMD serving the seed example (.ts, no build step).
 * It also checks that the Kubernetes manifests' probe paths answer on a real server.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient } from './helpers/client.js';
import { npm, packedApp } from './helpers/packed-app.js';
import { freePort, ROOT, startServer } from './helpers/server.js';

describe("the Dockerfile's app stage, by hand", () => {
  it('npm install --omit=dev of the packed skein, then serve the examples as its CMD does', async () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const cmd = JSON.parse(/^CMD (.*)$/m.exec(dockerfile)![1]!) as string[];
    expect(/^ENTRYPOINT (.*)$/m.exec(dockerfile)![1]).toBe('["node", "node_modules/skein/dist/cli.js"]');
    expect(dockerfile).toMatch(/npm install --omit=dev .*\/tmp\/skein\.tgz/);
    const { root, tarball } = await packedApp();
    const app = mkdtempSync(join(root, 'image-'));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'skein-examples', private: true, type: 'module' }));
    await npm(['install', '--omit=dev', tarball], app);
    cpSync(join(ROOT, 'examples'), join(app, 'examples'), { recursive: true });
    const args = cmd.slice(1).map((a, i, all) => (all[i - 1] === '--port' ? '0' : a));
    const server = await startServer([...args, '--workers', '1', '--metrics-port', '0'], {
      cwd: app,
      cli: join(app, 'node_modules/skein/dist/cli.js'),
      env: { NODE_ENV: 'production' },
    });
    try {
      const c = await connectClient(server.port);
      c.write('hi');
      await c.waitFor((t) => t === 'Welcome to my network application!\r\nProcessed: hi');
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
