/**
 * `bench/native/ws-load.c`, the native WebSocket echo load generator: built
 * here with `cc -O2` into bench/.build/ (never committed), run in its own
 * process, its CPU reported beside the servers'.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hasCommand, type LineLoadResult } from './native.js';
import { ROOT } from './proc.js';

const SOURCE = join(ROOT, 'bench', 'native', 'ws-load.c');
export const WS_LOAD = join(ROOT, 'bench', '.build', 'ws-load');

/** Compiles ws-load when its binary is missing or older than its source. */
export function buildWsLoad(): string {
  if (existsSync(WS_LOAD) && statSync(WS_LOAD).mtimeMs >= statSync(SOURCE).mtimeMs) return WS_LOAD;
  if (!hasCommand('cc')) throw new Error('the WebSocket bench compiles bench/native/ws-load.c and needs a C compiler: apt-get install -y gcc');
  mkdirSync(join(ROOT, 'bench', '.build'), { recursive: true });
  const built = spawnSync('cc', ['-O2', '-Wall', '-pthread', '-o', WS_LOAD, SOURCE], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`cc -O2 ${SOURCE} failed:\n${built.stderr}`);
  return WS_LOAD;
}

/** What ws-load prints (the same shape as line-load's result, plus `idle`). */
export type WsLoadResult = LineLoadResult & { readonly idle: boolean };

export interface WsLoadOptions {
  readonly port: number;
  readonly connections: number;
  readonly depth?: number;
  readonly seconds: number;
  readonly warmup?: number;
  readonly threads?: number;
  readonly payload?: number;
  /** Open, upgrade and hold the connections without sending. */
  readonly idle?: boolean;
}

/**
 * Runs ws-load once. `onStarted` runs when its measured window opens (with
 * `idle`: once every connection is upgraded), `onFinished` when it closes.
 */
export async function runWsLoad(options: WsLoadOptions, hooks: { onStarted?: () => void | Promise<void>; onFinished?: () => void } = {}): Promise<WsLoadResult> {
  const args = [
    ...['-p', String(options.port), '-c', String(options.connections), '-d', String(options.depth ?? 1)],
    ...['-s', String(options.seconds), '-w', String(options.warmup ?? 1), '-t', String(options.threads ?? 1), '-l', String(options.payload ?? 32)],
    ...(options.idle ? ['-i'] : []),
  ];
  const child = spawn(buildWsLoad(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => {
    const text = c.toString();
    if (text.includes('ws-load: measuring') || text.includes('ws-load: idle')) void hooks.onStarted?.();
    if (text.includes('ws-load: finished')) hooks.onFinished?.();
    stderr += text;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), (options.seconds + (options.warmup ?? 1) + 60) * 1000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  if (code !== 0) throw new Error(`ws-load ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
  return JSON.parse(stdout) as WsLoadResult;
}
