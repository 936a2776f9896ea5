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

  it('prints usage with --help', async () => {
    const { code, stdout } = await runToExit(['serve', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/usage: skein serve/);
  });
});
