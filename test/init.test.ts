/**
 * `npx skein init demo && cd demo && npm install && npm test && npm start`, from the packed
 * tarball in a temporary folder: the served protocol answers a real client. Then the app's
 * Dockerfile, step by step (no Docker engine here): `npm ci --omit=dev` into a fresh folder
 * with package.json, package-lock.json and src/, and its ENTRYPOINT serving src/protocol.ts.
 */
import { cpSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient } from './helpers/client.js';
import { exec, npm, packedApp } from './helpers/packed-app.js';
import { startServer } from './helpers/server.js';

const NO_METRICS = { SKEIN_PORT: '0', SKEIN_METRICS_PORT: '0', SKEIN_WORKERS: '2' };

async function answers(port: number): Promise<void> {
  const c = await connectClient(port);
  await c.waitFor((t) => t === 'hello! send me a line\r\n');
  c.write('hi\r\n');
  await c.waitFor((t) => t.endsWith('you said: hi\r\n'));
  c.end();
}

describe('skein init, from the packed tarball', { timeout: 300_000 }, () => {
  let demo = '';

  it('skein init demo && cd demo && npm install && npm test && npm start: the protocol answers', async () => {
    const { root, tarball, bin } = await packedApp();
    const work = mkdtempSync(join(root, 'init-'));
    demo = join(work, 'demo');
    const times: Record<string, number> = {};
    let t = performance.now();
    const lap = (name: string) => {
      times[name] = Math.round(performance.now() - t);
      t = performance.now();
    };
    const created = await exec(process.execPath, [bin, 'init', 'demo', '--skein-spec', `file:${tarball}`], work);
    expect(created).toContain('npm install');
    lap('init');
    await npm(['install'], demo);
    lap('npm install');
    const tested = await exec('npm', ['test'], demo);
    expect(tested).toMatch(/Tests\s+1 passed/);
    lap('npm test');
    const server = await startServer([], { cwd: demo, command: ['npm', 'start'], env: NO_METRICS, group: true });
    const primary = Number(server.logs.find((l) => l.msg.startsWith('skein ready'))!.pid);
    try {
      expect(server.pids).toHaveLength(2);
      await answers(server.port);
      lap('npm start until it answers');
    } finally {
      // Ctrl-C in a terminal: SIGINT to the whole process group (npm, sh, skein; workers ignore it and drain).
      await server.stop('SIGINT');
    }
    expect(() => process.kill(primary, 0)).toThrow();
    expect(server.output()).toMatch(/shut ?down|drain/i);
    expect(server.logs.filter((l) => l.level >= 50)).toEqual([]);
    console.log(`skein init path (ms): ${JSON.stringify(times)}`);
  });

  it("the app's Dockerfile steps: npm ci --omit=dev, then its ENTRYPOINT serves src/protocol.ts", async () => {
    expect(demo).not.toBe('');
    const image = mkdtempSync(join(demo, '..', 'image-'));
    for (const f of ['package.json', 'package-lock.json', 'src']) cpSync(join(demo, f), join(image, f), { recursive: true });
    await npm(['ci', '--omit=dev'], image);
    const server = await startServer(['src/protocol.ts', '--port', '0'], {
      cwd: image,
      cli: join(image, 'node_modules/skein/dist/cli.js'),
      env: { ...NO_METRICS, NODE_ENV: 'production' },
    });
    try {
      await answers(server.port);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
