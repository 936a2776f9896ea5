import { createServer } from 'node:net';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI, eventually, ROOT, runToExit, startServer } from './helpers/server.js';

const SLOW_START = fileURLToPath(new URL('./fixtures/slow-start.ts', import.meta.url));
const TERM_AT_FIRST_FORK = pathToFileURL(fileURLToPath(new URL('./fixtures/term-at-first-fork.mjs', import.meta.url))).href;

describe('skein command line', () => {
  it.each([
    [['serve', '--workers', 'abc'], /--workers must be a positive integer \(got 'abc'\)/],
    [['serve', '--port', '70000'], /--port must be a port number/],
    [['serve', '--bogus'], /unknown option '--bogus'/],
    [['serve', '--listen', 'tcp:nope'], /invalid endpoint 'tcp:nope': port/],
    [['serve', '--metrics-timeout=-1'], /--metrics-timeout must be a positive number of seconds/],
    [['serve', 'no-such-protocol', '--metrics-port', '0'], /protocol 'no-such-protocol' is not a built-in protocol/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    // Issue 15, case 6: forked thousands of workers in a synchronous loop.
    [['serve', '--workers', '99999999999999999999', '--metrics-port', '0'], /--workers must be a positive integer \(got '99999999999999999999'\)/],
    [['serve', '--workers', String(4 * availableParallelism() + 1), '--metrics-port', '0'], /--workers must be at most \d+ \(4 × \d+ cores; raise --max-workers to allow more\)/],
    [['serve', '--workers', '3', '--max-workers', '2', '--metrics-port', '0'], /--workers must be at most 2 \(--max-workers; raise --max-workers/],
    // Issue 15, case 11: every option has a range; protocol options are typed.
    [['serve', '--high-water-mark', '0', '--metrics-port', '0'], /--high-water-mark must be a positive number of bytes \(got '0'\)/],
    [['serve', '--metrics-timeout', '1e10', '--metrics-port', '0'], /--metrics-timeout must be at most 2147483 seconds/],
    [['serve', 'lines', '--option', 'maxLength=abc', '--port', '0', '--workers', '1', '--metrics-port', '0'], /lines: option 'maxLength' must be a positive integer \(got "abc"\)/],
    [['serve', 'processed', '--option', 'offload=maybe', '--port', '0', '--workers', '1', '--metrics-port', '0'], /processed: option 'offload' must be true or false \(got "maybe"\)/],
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

  it('warns once when a .ts protocol defines a method that looks like a misspelled hook', async () => {
    const server = await startServer(['./test/fixtures/misspelled-hook.ts', '--port', '0', '--workers', '1', '--metrics-port', '0']);
    try {
      await eventually(() => server.output().includes('SKEIN_MISSPELLED_HOOK'));
      const warnings = server.output().split('\n').filter((l) => l.includes('SKEIN_MISSPELLED_HOOK'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('Typo.dataRecieved looks like a misspelling of the hook dataReceived');
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('prints usage with --help', async () => {
    const { code, stdout } = await runToExit(['serve', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/usage: skein serve/);
  });

  it('honours SIGTERM while workers are still starting: exits 0, never ready', async () => {
    const marker = join(tmpdir(), `skein-slow-${process.pid}-${Date.now()}`);
    writeFileSync(marker, '');
    const child = spawn(process.execPath, [CLI, 'serve', SLOW_START, '--port', '0', '--workers', '2', '--metrics-port', '0'], {
      cwd: ROOT,
      env: { ...process.env, SLOW_START_MARKER: marker },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = once(child, 'exit');
    try {
      // The primary is up (its handlers installed) and forking; each worker loads for 4 s.
      await eventually(() => output.includes('starting 2 workers'));
      await new Promise((r) => setTimeout(r, 200));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const [code] = (await exited) as [number | null];
      clearTimeout(timer);
      expect(code).toBe(0);
      expect(output).not.toMatch(/skein ready/);
    } finally {
      // Not left running (with its workers) when an expectation above fails.
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(marker, { force: true });
    }
  });

  it('a SIGTERM that arrives after the first fork stops the forking: fewer workers forked than asked for, exits 0, never ready', async () => {
    // Issue 15, case 6: the primary forked in a synchronous loop and saw a SIGTERM only after
    // the last fork. Here the primary signals itself at its first fork (a preload), so the count
    // does not depend on timing: a primary that forks one worker per turn stops within a turn or two.
    const workers = 12;
    const stamp = `${process.pid}-${Date.now()}`;
    const marker = join(tmpdir(), `skein-slow-${stamp}`);
    const countFile = join(tmpdir(), `skein-forks-${stamp}`);
    writeFileSync(marker, '');
    try {
      const child = spawn(process.execPath, ['--import', TERM_AT_FIRST_FORK, CLI, 'serve', SLOW_START, '--port', '0', '--workers', String(workers), '--metrics-port', '0'], {
        cwd: ROOT,
        // More workers than 4 × cores allows by default: the explicit override (from the environment).
        env: { ...process.env, SLOW_START_MARKER: marker, SKEIN_MAX_WORKERS: String(workers), FORK_COUNT_FILE: countFile },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const [code] = (await once(child, 'exit')) as [number | null];
      clearTimeout(timer);
      const forks = Number(readFileSync(countFile, 'utf8'));
      expect(forks).toBeGreaterThanOrEqual(1);
      expect(forks).toBeLessThan(workers);
      expect(code).toBe(0);
      expect(output).toMatch(new RegExp(`starting ${workers} workers`));
      expect(output).toMatch(/shutting down/);
      expect(output).not.toMatch(/skein ready/);
    } finally {
      rmSync(marker, { force: true });
      rmSync(countFile, { force: true });
    }
  });
});
