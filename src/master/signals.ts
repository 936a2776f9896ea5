import type { Logger } from '../shared/log.js';

/** What the primary's signal handlers act on. */
export interface SignalTarget {
  /** Drains and stops (first SIGTERM/SIGINT). */
  stop(): Promise<void>;
  /** Closes what is left now (a second SIGTERM/SIGINT). */
  force(): void;
  reload(): Promise<void>;
  addWorker(): void;
  removeWorker(): void;
  /** True once every worker listened: reload and scaling wait for it. */
  readonly started: boolean;
  readonly stopping: boolean;
}

/**
 * Operator signals, as gunicorn and nginx use them: SIGTERM/SIGINT drain and
 * exit 0 (a second one closes what is left at once), SIGHUP reloads workers
 * one at a time, SIGTTIN adds a worker and SIGTTOU retires one. Returns a
 * function that removes the handlers.
 */
export function installSignalHandlers(target: SignalTarget, log: Logger): () => void {
  let stopSignals = 0;
  const onStop = (signal: NodeJS.Signals) => {
    if (++stopSignals > 1) {
      log.warn({ signal }, 'second signal: closing every connection now');
      target.force();
      return;
    }
    log.info({ signal }, 'signal received');
    void target.stop().then(() => process.exit(0));
  };
  // Reloading or scaling a server that is still starting (or stopping) would race its own start.
  const whenRunning = (signal: NodeJS.Signals, action: () => void) => () => {
    if (target.stopping) return;
    if (!target.started) {
      log.warn({ signal }, `${signal} ignored: the server is still starting`);
      return;
    }
    action();
  };
  const handlers: Array<[NodeJS.Signals, () => void]> = [
    ['SIGTERM', () => onStop('SIGTERM')],
    ['SIGINT', () => onStop('SIGINT')],
    [
      'SIGHUP',
      whenRunning('SIGHUP', () => {
        log.info({ signal: 'SIGHUP' }, 'signal received: rolling reload');
        void target.reload();
      }),
    ],
    ['SIGTTIN', whenRunning('SIGTTIN', () => target.addWorker())],
    ['SIGTTOU', whenRunning('SIGTTOU', () => target.removeWorker())],
  ];
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}
