import { createServer } from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { runToExit } from './helpers/server.js';

describe('skein command line', () => {
  it.each([
    [['serve', '--workers', 'abc'], /--workers must be a positive integer \(got 'abc'\)/],
    [['serve', '--port', '70000'], /--port must be a port number/],
    [['serve', '--bogus'], /unknown option '--bogus'/],
    [['serve', '--listen', 'tcp:nope'], /invalid endpoint 'tcp:nope': port/],
    [['serve', '--metrics-timeout=-1'], /--metrics-timeout must be a positive number of seconds/],
    [['serve', 'no-such-protocol', '--metrics-port', '0'], /protocol 'no-such-protocol' is not a built-in protocol/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('%j exits non-zero with one line naming the problem', async (args, message) => {
    const { code, stderr } = await runToExit(args);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('reads options from SKEIN_* environment variables', async () => {
    const { code, stderr } = await runToExit(['serve'], { env: { SKEIN_WORKERS: 'zero' } });
    expect(code).toBe(2);
    expect(stderr).toMatch(/SKEIN_WORKERS must be a positive integer/);
  });

  it('says so when the port is in use', async () => {
    const blocker = createServer().listen(0, '0.0.0.0');
    await once(blocker, 'listening');
    const port = (blocker.address() as { port: number }).port;
    try {
      const { code, stderr } = await runToExit(['serve', 'processed', '--port', String(port), '--workers', '1', '--metrics-port', '0']);
      expect(code).toBe(1);
      expect(stderr).toMatch(new RegExp(`cannot listen on tcp:${port}: address already in use`));
    } finally {
      blocker.close();
    }
  });

  it('a bad log level is an option error (exit 2), from the flag or the environment', async () => {
    for (const [args, env, name] of [
      [['serve', '--log-level', 'loud'], {}, '--log-level'],
      [['serve'], { SKEIN_LOG_LEVEL: 'loud' }, 'SKEIN_LOG_LEVEL'],
      [['serve', '--log-format', 'xml'], {}, '--log-format'],
    ] as const) {
      const { code, stderr } = await runToExit([...args], { env });
      expect(code).toBe(2);
      expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^skein: ${name} must be one of `))]);
    }
  });

  it('a start-up failure prints one line and one log record, each saying it once', async () => {
    const { code, stdout, stderr } = await runToExit(['serve', './test/fixtures/start-fails.mjs', '--port', '0', '--workers', '2', '--metrics-port', '0']);
    expect(code).toBe(1);
    expect(stderr).toBe('skein: config missing: DATABASE_URL\n');
    const records = stdout.trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string; stack: string } });
    const bad = records.filter((r) => r.level >= 50);
    expect(bad).toHaveLength(1);
    expect(bad[0]!.msg).toBe('server cannot start');
    expect(bad[0]!.err!.message).toBe('config missing: DATABASE_URL');
    expect(bad[0]!.err!.stack).toMatch(/startFactory/);
  });

  it('prints usage with --help', async () => {
    const { code, stdout } = await runToExit(['serve', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/usage: skein serve/);
  });
});
