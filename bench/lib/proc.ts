/**
 * Processes for the benchmarks: start a server (skein or a baseline) and wait
 * for its ready line, read a process's RSS and CPU time from /proc, run
 * `skein load` in its own process.
 */
import { dirname } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from '../../src/client/load/runner.js';
import { freePort } from '../../test/helpers/free-port.js';

export { freePort };

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const BASELINE = fileURLToPath(new URL('../baselines/net-server.ts', import.meta.url));

export interface BenchServer {
  readonly name: string;
  readonly port: number;
  /** Processes that do the work (skein's workers; the baseline's process or cluster workers). */
  readonly workerPids: number[];
  /** Every process of the server (with the primary). */
  readonly allPids: number[];
  stop(): Promise<void>;
}

/** Starts `skein serve PROTOCOL` with `workers` workers on a free port (`cli`: another build's `dist/cli.js`). */
export async function startSkein(protocol: string, workers: number, extra: string[] = [], cli = CLI): Promise<BenchServer> {
  const child = spawn(process.execPath, [cli, 'serve', protocol, '--port', '0', '--workers', String(workers), '--metrics-port', '0', ...extra], {
    cwd: dirname(dirname(cli)),
    env: { ...process.env, SKEIN_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = await readyLine(child, (line) => {
    const parsed = JSON.parse(line) as { msg?: string; endpoints?: Array<{ port?: number }>; pids?: number[] };
    return parsed.msg?.startsWith('skein ready') ? { port: parsed.endpoints![0]!.port!, pids: parsed.pids! } : undefined;
  });
  return server(`skein ${protocol} ×${workers}`, child, ready.port, ready.pids);
}

/** Starts the hand-written node:net baseline: single process (`workers` 0) or node:cluster. */
export async function startBaseline(protocol: string, workers: number, greeting?: string): Promise<BenchServer> {
  const port = workers > 0 ? await freePort() : 0;
  const args = ['--import', 'tsx', BASELINE, protocol, '--port', String(port), '--workers', String(workers)];
  if (greeting) args.push('--greeting', greeting);
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const ready = await readyLine(child, (line) => {
    const parsed = JSON.parse(line) as { ready?: boolean; port: number; pids: number[] };
    return parsed.ready ? parsed : undefined;
  });
  return server(workers > 0 ? `node:cluster ${protocol} ×${workers}` : `node:net ${protocol} ×1`, child, ready.port, ready.pids);
}

/** Wraps a started server process; `stop()` ends it (SIGTERM, then SIGKILL) and any worker left by pid. */
export function server(name: string, child: ChildProcess, port: number, workerPids: number[]): BenchServer {
  return {
    name,
    port,
    workerPids,
    allPids: [child.pid!, ...workerPids.filter((p) => p !== child.pid)],
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      // A drained skein primary has stopped its workers; a killed one may leave them: kill them by pid.
      for (const pid of workerPids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    },
  };
}

/** Resolves with the first stdout line `parse` accepts (rejects when the process exits first or after `timeoutMs`). */
export async function readyLine<T>(child: ChildProcess, parse: (line: string) => T | undefined, timeoutMs = 30_000): Promise<T> {
  let output = '';
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        let value: T | undefined;
        try {
          value = parse(line);
        } catch {
          continue;
        }
        if (value !== undefined) {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          // Keep draining the pipes so a chatty server never blocks on a full pipe.
          child.stdout!.resume();
          resolve(value);
          return;
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before it was ready:\n${output}`)));
  });
}

/** Resident set size of `pid` in bytes (VmRSS from /proc/PID/status). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux (getconf CLK_TCK)

/** User + system CPU seconds used so far by `pid` (from /proc/PID/stat). */
export function cpuSeconds(pid: number): number {
  const { user, system } = cpuTimes(pid);
  return user + system;
}

/** User and system (kernel) CPU seconds used so far by `pid` (from /proc/PID/stat; 0 once it is gone). */
export function cpuTimes(pid: number): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / CLOCK_TICKS, system: Number(fields[12]) / CLOCK_TICKS };
  } catch {
    return { user: 0, system: 0 };
  }
}

/**
 * Runs `skein load ARGS --json` in its own process and returns its result.
 * `onStarted` / `onFinished` run when it reports that its measurement window
 * opens (connections ready, and warmed up with `--warmup`) and closes (before the connections close).
 */
export async function runLoadProcess(
  args: string[],
  hooks: { onStarted?: () => void; onFinished?: () => void } = {},
  timeoutMs = 600_000,
): Promise<LoadResult> {
  const child = spawn(process.execPath, [CLI, 'load', ...args, '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => {
    pending += c.toString();
    let nl;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.endsWith('measuring')) hooks.onStarted?.();
      else if (line === 'skein load: finished') hooks.onFinished?.();
      else if (!line.startsWith('[')) stderr += `${line}\n`;
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  if (code !== 0) throw new Error(`skein load ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
  return JSON.parse(stdout) as LoadResult;
}
