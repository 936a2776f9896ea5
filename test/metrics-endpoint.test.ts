import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aptBinary } from './helpers/apt-binary.js';
import { connectClient, sumSeries, parseExposition } from './helpers/client.js';
import { eventually, freePort, ROOT, startServer, type StartedServer } from './helpers/server.js';

const WELCOME = 'Welcome to my network application!\r\n';
const TOKEN = 's3cret-token';
const promtool = aptBinary('promtool', 'prometheus');


describe('the /metrics endpoint (2 workers, token required)', () => {
  let server: StartedServer;
  let url: string;
  const get = (headers: Record<string, string> = {}) => fetch(url, { headers: { authorization: `Bearer ${TOKEN}`, ...headers } });
  const scrape = async () => parseExposition(await (await get()).text());

  beforeAll(async () => {
    server = await startServer(['processed', '--port', '0', '--workers', '2', '--metrics-port', String(await freePort())], {
      env: { SKEIN_METRICS_TOKEN: TOKEN },
    });
    url = `http://127.0.0.1:${server.metricsPort}/metrics`;
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('counts each message of the processed protocol and times it to its reply', async () => {
    const before = await scrape();
    const connections = 4;
    const perConnection = 5;
    for (let c = 0; c < connections; c++) {
      const client = await connectClient(server.port);
      await client.waitFor((t) => t === WELCOME);
      // One chunk at a time (each waits for its reply), so every chunk is one message.
      for (let i = 1; i <= perConnection; i++) {
        client.write(`m${i}\n`);
        await client.waitFor((t) => t.endsWith(`Processed: m${i}\n`));
      }
      client.end();
      await client.closed();
    }
    const messages = connections * perConnection;
    const delta = (m: Map<string, number>, name: string) => sumSeries(m, name, 'protocol="processed"') - sumSeries(before, name, 'protocol="processed"');
    const after = await eventually(async () => {
      const m = await scrape();
      return delta(m, 'skein_message_duration_seconds_count') === messages ? m : undefined;
    });
    expect(delta(after, 'skein_messages_total')).toBe(messages);
    expect(delta(after, 'skein_connections_total')).toBe(connections);
    expect(delta(after, 'skein_bytes_received_total')).toBe(connections * perConnection * 3);
    expect(after.get('skein_message_duration_seconds_bucket{le="+Inf",protocol="processed"}')).toBe(
      after.get('skein_message_duration_seconds_count{protocol="processed"}'),
    );
    expect(after.get('skein_message_duration_seconds_sum{protocol="processed"}')).toBeGreaterThan(0);
  });

  it('labels per-process metrics with the worker slot instead of summing them', async () => {
    const m = await scrape();
    for (const worker of ['0', '1']) {
      expect(m.get(`process_resident_memory_bytes{worker="${worker}"}`)).toBeGreaterThan(0);
      expect(m.has(`skein_event_loop_lag_seconds{worker="${worker}"}`)).toBe(true);
    }
    expect(m.has('process_resident_memory_bytes')).toBe(false);
    expect(m.get('skein_workers_alive')).toBe(2);
  });

  it.skipIf(!promtool)('passes promtool check metrics (classic text format)', async () => {
    const res = await get();
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await res.text();
    const check = spawnSync(promtool!, ['check', 'metrics'], { input: body, encoding: 'utf8' });
    expect(check.stdout + check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('answers in OpenMetrics when the Accept header asks, and OpenMetrics parses it', async () => {
    const res = await get({ accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' });
    expect(res.headers.get('content-type')).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    const body = await res.text();
    expect(body.endsWith('# EOF\n')).toBe(true);
    // Every sample belongs to a family declared before it, with OpenMetrics' suffixes; counters' families drop `_total`.
    const families = new Map<string, string>();
    for (const line of body.split('\n')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) {
        families.set(type[1]!, type[2]!);
        if (type[2] === 'counter') expect(type[1]!.endsWith('_total'), type[1]).toBe(false);
        continue;
      }
      if (!line || line.startsWith('#')) continue;
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0];
      const family = [name, name.replace(/_(total|bucket|sum|count|created|info)$/, '')].find((f) => families.has(f));
      expect(family, `family of ${name}`).toBeDefined();
      if (families.get(family!) === 'counter') expect(name).toBe(`${family}_total`);
    }
    expect(families.get('skein_messages')).toBe('counter');
    expect(families.get('skein_message_duration_seconds')).toBe('histogram');
    if (promtool) {
      // promtool's OpenMetrics reader (the backfill) wants a timestamp on each sample.
      const dir = await mkdtemp(join(tmpdir(), 'skein-om-'));
      try {
        const stamped = body
          .split('\n')
          .map((l) => (l && !l.startsWith('#') ? `${l} 1700000000` : l))
          .join('\n');
        await writeFile(join(dir, 'in.om'), stamped);
        await promisify(execFile)(promtool, ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'in.om'), join(dir, 'blocks')]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    // A classic scrape after an OpenMetrics one still names counters with `_total`.
    expect((await scrape()).has('skein_worker_restarts_total')).toBe(true);
  });

  it('refuses /metrics without the right bearer token and leaves the probes open', async () => {
    for (const authorization of [undefined, 'Bearer wrong', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
      const res = await fetch(url, authorization ? { headers: { authorization } } : {});
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.text()).not.toMatch(/skein_/);
    }
    expect((await get()).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${server.metricsPort}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${server.metricsPort}/readyz`)).status).toBe(200);
  });

  it('has every metric the Grafana dashboard queries', async () => {
    const dashboard = await readFile(join(ROOT, 'deploy/grafana/skein-dashboard.json'), 'utf8');
    const used = new Set([...dashboard.matchAll(/\b(?:skein|process)_[a-z_]+/g)].map(([name]) => name.replace(/_bucket$/, '')));
    expect(used.size).toBeGreaterThan(10);
    const declared = new Set([...(await (await get()).text()).matchAll(/^# TYPE (\S+) /gm)].map(([, name]) => name!));
    for (const name of used) expect(declared.has(name), name).toBe(true);
  });
});

describe('messages of a framed protocol (lines, 1 worker)', () => {
  it('counts and times each pipelined line, however the lines are chunked', async () => {
    const server = await startServer(['lines', '--port', '0', '--workers', '1', '--metrics-port', String(await freePort())]);
    try {
      const client = await connectClient(server.port);
      // Ten lines in one write, then one line split over three writes.
      client.write(Array.from({ length: 10 }, (_, i) => `l${i}\n`).join(''));
      await client.waitFor((t) => t.endsWith('Processed: l9\r\n'));
      for (const piece of ['spl', 'it', '\n']) client.write(piece);
      await client.waitFor((t) => t.endsWith('Processed: split\r\n'));
      const m = await eventually(async () => {
        const metrics = parseExposition(await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text());
        return metrics.get('skein_message_duration_seconds_count{protocol="lines"}') === 11 ? metrics : undefined;
      });
      expect(m.get('skein_messages_total{protocol="lines"}')).toBe(11);
      client.end();
      await client.closed();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
