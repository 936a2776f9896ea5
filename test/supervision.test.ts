import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, scrape, sumSeries, type TestClient } from './helpers/client.js';
import { eventually, freePort, runToExit, startServer, type StartedServer } from './helpers/server.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('supervision', () => {
  it('a protocol module that throws at import stops the server with the reason', async () => {
    const { code, stderr } = await runToExit(['serve', fixture('throws-at-import.mjs'), '--port', '0', '--workers', '2', '--metrics-port', '0']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/broken at import/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a crash loop exits non-zero with one line that says why and shows the last error', async () => {
    const { code, stderr } = await runToExit(
      ['serve', fixture('crash-after-start.mjs'), '--port', '0', '--workers', '1', '--crash-loop-deaths', '3', '--crash-loop-window', '60', '--metrics-port', '0'],
      { timeoutMs: 40_000 },
    );
    expect(code).toBe(1);
    expect(stderr).toMatch(/workers died 3 times in 60s; giving up\. Last error: Error: simulated fault after start/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  describe('SIGKILL of one worker under load', () => {
    let server: StartedServer;
    afterAll(async () => {
      expect(await server.stop()).toBe(0);
    });

    it('clients of the other worker see no error, and a replacement serves within seconds', async () => {
      server = await startServer([fixture('ops-protocol.ts'), '--port', '0', '--workers', '2', '--metrics-port', String(await freePort())]);
      const [victim, survivor] = server.pids as [number, number];
      // Round-robin alternates, so a few sessions land on both workers.
      const sessions: Array<{ client: TestClient; pid: number }> = [];
      for (let i = 0; i < 6; i++) {
        const client = await connectClient(server.port);
        client.write('pid\n');
        const text = await client.waitFor((t) => t.includes('\n'));
        sessions.push({ client, pid: Number(/pid (\d+)/.exec(text)![1]) });
      }
      const onSurvivor = sessions.filter((s) => s.pid === survivor);
      const onVictim = sessions.filter((s) => s.pid === victim);
      expect(onSurvivor.length).toBeGreaterThan(0);
      expect(onVictim.length).toBeGreaterThan(0);

      // Survivors keep asking and reading while the victim dies.
      const errors: string[] = [];
      let stop = false;
      let answered = 0;
      const loops = onSurvivor.map(async ({ client }, k) => {
        for (let n = 0; !stop; n++) {
          const expected = `echo: s${k}-${n}\n`;
          client.write(`s${k}-${n}\n`);
          try {
            await client.waitFor((t) => t.endsWith(expected));
            answered++;
          } catch (error) {
            errors.push((error as Error).message);
            return;
          }
        }
      });
      await eventually(() => answered >= 10);
      process.kill(victim, 'SIGKILL');
      await Promise.all(onVictim.map((s) => s.client.closed()));
      await eventually(async () => {
        const m = await scrape(server.metricsPort!);
        return sumSeries(m, 'skein_worker_restarts_total') === 1 && sumSeries(m, 'skein_workers_alive') === 2;
      });
      const afterRespawn = answered;
      await eventually(() => answered >= afterRespawn + 10);
      stop = true;
      await Promise.all(loops);
      expect(errors).toEqual([]);
      for (const { client } of onSurvivor) expect(client.socket.destroyed).toBe(false);

      // New connections (never retried) reach the survivor or the replacement, which serves.
      const seen = new Set<number>();
      for (let i = 0; i < 6; i++) {
        const client = await connectClient(server.port);
        client.write('pid\n');
        seen.add(Number(/pid (\d+)/.exec(await client.waitFor((t) => t.includes('\n')))![1]));
        client.end();
        await client.closed();
      }
      expect(seen.has(victim)).toBe(false);
      expect([...seen].some((pid) => pid !== survivor)).toBe(true);
      for (const { client } of onSurvivor) client.end();
    });
  });
});
