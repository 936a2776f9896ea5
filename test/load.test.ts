import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToExit, startServer, type StartedServer } from './helpers/server.js';

describe('skein load against skein serve processed (2 workers)', () => {
  let server: StartedServer;

  beforeAll(async () => {
    server = await startServer(['processed', '--port', '0', '--workers', '2', '--metrics-port', '0']);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it.each([
    ['one request in flight, in worker threads', ['-c', '4', '-p', '1', '--threads', '2']],
    ['pipelined (replies to coalesced requests are counted by echoed bytes)', ['-c', '3', '-p', '8', '--threads', '1']],
  ])('%s: answers every request and reports JSON', async (_name, extra) => {
    const { code, stdout, stderr } = await runToExit(
      ['load', '--port', String(server.port), '--preset', 'processed', '--requests', '3000', '--json', '--quiet', ...extra],
      { timeoutMs: 30_000 },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as Record<string, unknown> & { latencyMs: Record<string, number>; cpu: Record<string, number> };
    expect(result).toMatchObject({ framing: 'raw', requests: 3000, errors: 0, stalled: false });
    expect(result.throughput).toBeGreaterThan(0);
    expect(result.latencyMs.p50).toBeGreaterThan(0);
    expect(result.latencyMs.p99).toBeGreaterThanOrEqual(result.latencyMs.p50);
    expect(result.latencyMs.max).toBeGreaterThanOrEqual(result.latencyMs.p99);
    expect(result.cpu.percent).toBeGreaterThan(0);
  });

  it('prints progress and a text summary without --json', async () => {
    const { code, stdout, stderr } = await runToExit(
      ['load', '--port', String(server.port), '--preset', 'processed', '--duration', '1.5', '-c', '2', '--threads', '1'],
      { timeoutMs: 30_000 },
    );
    expect(code).toBe(0);
    expect(stderr).toMatch(/\[\s+1s\]\s+[\d,]+ req\/s/);
    expect(stdout).toMatch(/req\/s/);
    expect(stdout).toMatch(/p50 [\d.]+\s+p90 [\d.]+\s+p99 [\d.]+\s+max/);
  });

  it('--warmup runs unmeasured load first, then measures the request budget exactly', async () => {
    const { code, stdout, stderr } = await runToExit(
      ['load', '--port', String(server.port), '--preset', 'processed', '--requests', '2000', '--warmup', '0.5', '-c', '4', '--threads', '2', '--json'],
      { timeoutMs: 30_000 },
    );
    expect(code).toBe(0);
    expect(stderr).toMatch(/4 connections ready, warming up for 0.5 s\n[^]*warmed up, measuring/);
    expect(JSON.parse(stdout)).toMatchObject({ requests: 2000, errors: 0, warmupSeconds: 0.5 });
  });

  it('exits 1 with one line when nothing listens, and 2 for a bad option', async () => {
    const refused = await runToExit(['load', '--port', '1', '--requests', '10', '--quiet']);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/ECONNREFUSED/);
    const bad = await runToExit(['load', '--framing', 'xml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--framing must be one of line, int32, raw/);
    const negative = await runToExit(['load', '--warmup=-1']);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toMatch(/--warmup must be a non-negative number \(got '-1'\)/);
  });
});
