/**
 * The native load generators: `bench/native/line-load.c` (built here with
 * `cc -O2` into bench/.build/, never committed; ws-load.c and churn-load.c likewise) for the TCP protocols, and wrk
 * for HTTP. Both run in their own process; their CPU is measured beside
 * the servers'. Also: a CPU-bound "busy neighbour" process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './proc.js';

const NATIVE_DIR = join(ROOT, 'bench', 'native');
const BUILD_DIR = join(ROOT, 'bench', '.build');
export const WRK_PIPELINE_LUA = join(ROOT, 'bench', 'wrk-pipeline.lua');

/** True when `command` runs (`command -v`). */
export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Compiles `bench/native/TOOL.c` (with the header it shares, load-common.h)
 * into bench/.build/TOOL when the binary is missing or older than either;
 * returns the binary's path. Throws with what to install when there is no C compiler.
 */
export function buildNative(tool: 'line-load' | 'ws-load' | 'churn-load'): string {
  const source = join(NATIVE_DIR, `${tool}.c`);
  const binary = join(BUILD_DIR, tool);
  const newest = Math.max(statSync(source).mtimeMs, statSync(join(NATIVE_DIR, 'load-common.h')).mtimeMs);
  if (existsSync(binary) && statSync(binary).mtimeMs >= newest) return binary;
  if (!hasCommand('cc')) throw new Error(`the bench compiles bench/native/${tool}.c and needs a C compiler: apt-get install -y gcc`);
  mkdirSync(BUILD_DIR, { recursive: true });
  const built = spawnSync('cc', ['-O2', '-Wall', '-pthread', '-o', binary, source], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`cc -O2 ${source} failed:\n${built.stderr}`);
  return binary;
}

/** Compiles line-load when needed (buildNative). */
export function buildLineLoad(): string {
  return buildNative('line-load');
}

/** The HTTP tools the bench needs and how to get them; empty when all are there. */
export function missingHttpTools(): string[] {
  return ['wrk', 'nginx'].filter((tool) => !hasCommand(tool) && !existsSync(`/usr/sbin/${tool}`));
}

export const INSTALL_HINT = 'apt-get install -y wrk nginx';

export interface LineLoadResult {
  readonly connections: number;
  readonly depth: number;
  readonly threads: number;
  readonly seconds: number;
  readonly replies: number;
  /** Replies per second over the measured window. */
  readonly throughput: number;
  readonly latencyUs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number };
  readonly errors: number;
  /** The generator's own CPU over the window (percent of one core). */
  readonly cpu: { readonly seconds: number; readonly percent: number };
}

export interface LineLoadOptions {
  readonly port: number;
  readonly connections: number;
  readonly depth: number;
  readonly seconds: number;
  readonly warmup: number;
  readonly threads?: number;
  readonly payload?: number;
  /** Skip one greeting line per connection first. */
  readonly greeting?: boolean;
  /** An echo that prefixes each chunk it answers (`processed`: `Processed: `). */
  readonly replyPrefix?: string;
}

/**
 * Runs line-load once. `onStarted` / `onFinished` run when its measured window
 * opens and closes (after warm-up; before the connections close).
 */
export async function runLineLoad(
  options: LineLoadOptions,
  hooks: { onStarted?: () => void; onFinished?: () => void } = {},
): Promise<LineLoadResult> {
  const args = [
    ...['-p', String(options.port), '-c', String(options.connections), '-d', String(options.depth)],
    ...['-s', String(options.seconds), '-w', String(options.warmup), '-t', String(options.threads ?? 1), '-l', String(options.payload ?? 64)],
    ...(options.greeting ? ['-g'] : []),
    ...(options.replyPrefix ? ['-x', options.replyPrefix] : []),
  ];
  return runNative<LineLoadResult>('line-load', args, options.seconds + options.warmup + 30, hooks);
}

/**
 * Runs a native generator once (built first when needed) and parses the JSON
 * line it prints. `onStarted` runs at its "TOOL: measuring" (or "TOOL: idle")
 * marker on stderr, `onFinished` at "TOOL: finished"; killed after `timeoutSeconds`.
 */
export async function runNative<T>(
  tool: 'line-load' | 'ws-load',
  args: readonly string[],
  timeoutSeconds: number,
  hooks: { onStarted?: () => void | Promise<void>; onFinished?: () => void },
): Promise<T> {
  const child = spawn(buildNative(tool), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => {
    const text = c.toString();
    if (text.includes(`${tool}: measuring`) || text.includes(`${tool}: idle`)) void hooks.onStarted?.();
    if (text.includes(`${tool}: finished`)) hooks.onFinished?.();
    stderr += text;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutSeconds * 1000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${tool} ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
  return JSON.parse(stdout) as T;
}

export interface WrkResult {
  readonly rps: number;
  /** Latency percentiles in ms (`--latency`). */
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly non2xx: number;
  /** wrk's own CPU over its run, in cores. */
  readonly cpuCores: number;
  /** Wall seconds of the whole wrk process. */
  readonly wallSeconds: number;
}

export interface WrkOptions {
  readonly port: number;
  readonly connections: number;
  readonly seconds: number;
  /** Requests written back to back per connection (bench/wrk-pipeline.lua); 1 = plain keep-alive. */
  readonly pipeline?: number;
  /** Threads; one per core by default. */
  readonly threads?: number;
  readonly headers?: readonly string[];
  readonly path?: string;
}

/**
 * Runs wrk once under a shell that reports the CPU of its children (wrk) after
 * it exits. `onStarted` runs when wrk has been spawned.
 */
export async function runWrk(options: WrkOptions, hooks: { onStarted?: () => void; onFinished?: () => void } = {}): Promise<WrkResult> {
  const threads = Math.min(options.threads ?? availableParallelism(), options.connections);
  const pipeline = options.pipeline ?? 1;
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const args = [
    `-t${threads}`,
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    '--latency',
    ...(pipeline > 1 ? ['-s', WRK_PIPELINE_LUA] : []),
    ...(options.headers ?? []).flatMap((h) => ['-H', h]),
    `http://127.0.0.1:${options.port}${options.path ?? '/'}`,
  ];
  const cmd = `PIPELINE=${pipeline} wrk ${args.map(quote).join(' ')}; echo; echo CHILD_CPU $(cut -d' ' -f16,17 /proc/$$/stat)`;
  const started = performance.now();
  const child = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
  hooks.onStarted?.();
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.includes('Requests/sec')) hooks.onFinished?.();
  });
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  await once(child, 'exit');
  const wallSeconds = (performance.now() - started) / 1000;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  if (!Number.isFinite(rps)) throw new Error(`wrk ${args.join(' ')} printed no Requests/sec:\n${out}`);
  const childCpu = /CHILD_CPU (\d+) (\d+)/.exec(out);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps,
    p50: wrkLatency(out, '50%'),
    p99: wrkLatency(out, '99%'),
    // wrk counts a server's orderly close after a `Connection: close` response as a read error: only
    // connect errors and timeouts are failures.
    errors: errors ? Number(errors[1]) + Number(errors[4]) : 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    cpuCores: childCpu ? (Number(childCpu[1]) + Number(childCpu[2])) / 100 / wallSeconds : Number.NaN,
    wallSeconds,
  };
}

/** A latency percentile from wrk's `--latency` table, in ms. */
function wrkLatency(out: string, label: string): number {
  const m = new RegExp(`\\s${label}\\s+([\\d.]+)(us|ms|s)`).exec(out);
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/** A CPU-bound process beside the servers (`node -e 'for(;;){}'`); `stop()` ends it. */
export function startBusyNeighbour(): { readonly child: ChildProcess; stop(): Promise<void> } {
  const child = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
  return {
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}
