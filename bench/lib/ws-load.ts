/**
 * `bench/native/ws-load.c`, the native WebSocket echo load generator: built
 * here with `cc -O2` into bench/.build/ (never committed), run in its own
 * process, its CPU reported beside the servers'.
 */
import { buildNative, runNative, type LineLoadResult } from './native.js';

/** Compiles ws-load when needed (buildNative). */
export function buildWsLoad(): string {
  return buildNative('ws-load');
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
  return runNative<WsLoadResult>('ws-load', args, options.seconds + (options.warmup ?? 1) + 60, hooks);
}
