import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aptBinary } from './helpers/apt-binary.js';
import { connectClient } from './helpers/client.js';
import { eventually, freePort, ROOT, startServer, type StartedServer } from './helpers/server.js';

const WELCOME = 'Welcome to my network application!\r\n';
const TOKEN = 'prometheus-token';
const prometheusBinary = aptBinary('prometheus', 'prometheus');

interface QueryResult {
  status: string;
  data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

describe.skipIf(!prometheusBinary)('a real Prometheus scraping skein', () => {
  let server: StartedServer;
  let prometheus: ChildProcess;
  let dir: string;
  let api: string;
  let output = '';

  const query = async (expr: string): Promise<QueryResult['data']['result']> => {
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as QueryResult;
    expect(body.status).toBe('success');
    return body.data.result;
  };

  beforeAll(async () => {
    server = await startServer(['processed', '--port', '0', '--workers', '2', '--metrics-port', String(await freePort())], {
      env: { SKEIN_METRICS_TOKEN: TOKEN },
    });
    dir = await mkdtemp(join(tmpdir(), 'skein-prometheus-'));
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: skein',
      '    authorization:',
      `      credentials: ${TOKEN}`,
      '    static_configs:',
      `      - targets: ['127.0.0.1:${server.metricsPort}']`,
      '',
    ].join('\n');
    await writeFile(join(dir, 'prometheus.yml'), config);
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      prometheusBinary!,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    prometheus.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    await eventually(async () => (await fetch(`${api}/-/ready`)).ok, 30_000, 200);
  });

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null && prometheus.signalCode === null) {
      const exited = once(prometheus, 'exit');
      prometheus.kill('SIGTERM');
      const timer = setTimeout(() => prometheus.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
    if (server) expect(await server.stop()).toBe(0);
  });

  it('scrapes it (up == 1) and sees skein_connections_total summed over the workers', async () => {
    const connections = 6;
    for (let i = 0; i < connections; i++) {
      const c = await connectClient(server.port);
      await c.waitFor((t) => t.startsWith(WELCOME));
      c.end();
      await c.closed();
    }
    try {
      await eventually(async () => (await query('up{job="skein"}'))[0]?.value[1] === '1', 30_000, 250);
      const targets = (await (await fetch(`${api}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ health: string; lastError: string }> } };
      expect(targets.data.activeTargets[0]).toMatchObject({ health: 'up', lastError: '' });
      // One series, no worker label: the primary summed the workers before Prometheus saw it.
      const result = await eventually(async () => {
        const r = await query('skein_connections_total{job="skein"}');
        return r.length === 1 && r[0]!.value[1] === String(connections) ? r : undefined;
      }, 30_000, 250);
      expect(result[0]!.metric.worker).toBeUndefined();
      expect(result[0]!.metric.protocol).toBe('processed');
      // …and it is the sum of what each worker accepted.
      const perWorker = await query('skein_worker_connections_total{job="skein"}');
      expect(perWorker.map((r) => r.metric.worker).sort()).toEqual(['0', '1']);
      expect(perWorker.reduce((n, r) => n + Number(r.value[1]), 0)).toBe(connections);
    } catch (error) {
      console.log(`prometheus output:\n${output}`);
      throw error;
    }
  });

  it('accepts every query of the Grafana dashboard', async () => {
    const dashboard = JSON.parse(await readFile(join(ROOT, 'deploy/grafana/skein-dashboard.json'), 'utf8')) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
    };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(10);
    for (const expr of exprs) {
      const concrete = expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', '.*').replaceAll('$instance', '.*');
      const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(concrete)}`);
      const body = (await res.json()) as { status: string; error?: string };
      expect(body, concrete).toMatchObject({ status: 'success' });
    }
  });
});
