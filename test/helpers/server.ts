/**
 * Starts real skein servers for integration tests: `node dist/cli.js serve …`
 * exactly as users run it (npm test builds first), on port 0 or free ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
export { freePort } from './free-port.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface BoundEndpointInfo {
  service: string;
  endpoint: string;
  port?: number;
  address: string;
}

export interface StartedServer {
  readonly child: ChildProcess;
  readonly endpoints: BoundEndpointInfo[];
  /** Port of the first TCP endpoint. */
  readonly port: number;
  readonly metricsPort: number | undefined;
  readonly pids: number[];
  /** Every log line so far (JSON-parsed where possible). */
  readonly logs: LogLine[];
  /** Raw stdout + stderr so far. */
  output(): string;
  /** Waits for a log line matching `predicate` (bounded). */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends a signal and waits for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/**
 * Spawns `skein serve` with `args` and waits for the ready line.
 * Rejects with the process output if it exits first or is not ready in time.
 */
export async function startServer(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string; execArgv?: string[]; cli?: string; command?: string[]; group?: boolean } = {},
): Promise<StartedServer> {
  // `command` runs something else that starts a server (e.g. `npm start`); `args` are then ignored.
  // `group` starts it in its own process group, and `stop` signals the whole group, as a terminal's Ctrl-C does.
  const [file, ...argv] = options.command ?? [process.execPath, ...(options.execArgv ?? []), options.cli ?? CLI, 'serve', ...args];
  const child = spawn(file!, argv, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, SKEIN_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.group === true,
  });
  let raw = '';
  const logs: LogLine[] = [];
  const waiters: Array<{ predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let pending = '';
  const onChunk = (chunk: Buffer) => {
    raw += chunk.toString();
    pending += chunk.toString();
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const text = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { level: 0, msg: text };
      }
      logs.push(line);
      for (const w of [...waiters]) {
        if (w.predicate(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  };
  child.stdout!.on('data', onChunk);
  child.stderr!.on('data', onChunk);
  const exited = once(child, 'exit');

  const waitForLog = (predicate: (line: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> => {
    const found = logs.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; output:\n${raw}`)), timeoutMs);
      waiters.push({
        predicate,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`server exited (code ${child.exitCode}) before the expected log line; output:\n${raw}`));
      });
    });
  };

  const ready = await waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('skein ready'), options.timeoutMs ?? 30_000);
  const endpoints = ready.endpoints as BoundEndpointInfo[];
  const metrics = ready.metrics as string;
  const tcp = endpoints.find((e) => e.port !== undefined);
  return {
    child,
    endpoints,
    port: tcp?.port ?? 0,
    metricsPort: metrics === 'off' ? undefined : Number(new URL(metrics).port),
    pids: ready.pids as number[],
    logs,
    output: () => raw,
    waitForLog,
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      if (options.group) process.kill(-child.pid!, signal);
      else child.kill(signal);
      const timer = setTimeout(() => (options.group ? process.kill(-child.pid!, 'SIGKILL') : child.kill('SIGKILL')), timeoutMs);
      const [code] = (await exited) as [number | null];
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs `skein serve` expecting it to exit; returns its code and output. */
export async function runToExit(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Polls `check` until it returns a truthy value (bounded: "within seconds", never a timing assertion). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 20_000, intervalMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}
