import type { BoundEndpoint } from '../shared/ipc.js';
import { createLogger, type Logger } from '../shared/log.js';
import type { ServerOptions } from '../shared/config/options.js';
import { HealthServer } from './health-server.js';
import { Primary } from './primary.js';
import { installSignalHandlers } from './signals.js';

/** A running server, as `serve()` and the command line see it. */
export interface RunningServer {
  /** Every bound endpoint with its real port. */
  readonly endpoints: readonly BoundEndpoint[];
  /** The metrics/health port (undefined when turned off). */
  readonly metricsPort: number | undefined;
  /** Worker pids by slot. */
  workerPids(): number[];
  /** Drains and stops; resolves when every worker has exited. */
  stop(): Promise<void>;
  /** Rolling reload: replaces every worker, one at a time, with one that loads the code anew. */
  reload(): Promise<void>;
  /** Resolves when the server has stopped (by `stop()` or a signal). */
  readonly closed: Promise<void>;
}

export interface StartOptions {
  readonly options: ServerOptions;
  readonly exec: string;
  readonly execArgv: readonly string[];
  /**
   * Install signal handlers (the command line does): SIGTERM/SIGINT drain and
   * exit (a second one forces), SIGHUP reloads, SIGTTIN/SIGTTOU add/remove a worker.
   */
  readonly handleSignals: boolean;
  readonly log?: Logger;
}

/**
 * Starts the primary: forks workers, serves /metrics /healthz /readyz, and
 * resolves once every worker is listening (after logging the one ready line).
 * Rejects with the reason when the server cannot start (bad module, port in
 * use, crash loop).
 */
export async function startServer(start: StartOptions): Promise<RunningServer> {
  const { options } = start;
  const log = start.log ?? createLogger({ role: 'primary' });
  const primary = new Primary({ options, exec: start.exec, execArgv: start.execArgv, log });
  const health = new HealthServer(
    {
      scrape: (format) => primary.metrics.scrape(primary.scrapeTargets(), format),
      ready: () => primary.isReady,
    },
    log,
    options.metricsToken,
  );
  let metricsPort: number | undefined;
  if (options.metricsPort !== 0) {
    metricsPort = await health.listen(options.metricsPort, options.metricsHost);
    // Keeps each worker's last-known counters fresh, so a worker killed between scrapes loses little.
    primary.metrics.startRefresh(() => primary.scrapeTargets());
  }

  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let stopping: Promise<void> | undefined;
  let closedWithError: Error | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      log.info('shutting down: draining workers');
      await primary.shutdown();
      primary.metrics.stopRefresh();
      await health.close();
      log.info('stopped');
      resolveClosed();
    })());

  // Installed before the workers fork, so a SIGTERM during start-up drains too.
  let started = false;
  let uninstallSignals = () => {};
  if (start.handleSignals) {
    uninstallSignals = installSignalHandlers(
      {
        stop,
        force: () => primary.force(),
        reload: () => primary.reload(),
        addWorker: () => primary.addWorker(),
        removeWorker: () => primary.removeWorker(),
        get started() {
          return started;
        },
        get stopping() {
          return stopping !== undefined || closedWithError !== undefined;
        },
      },
      log,
    );
  }

  const endpoints = await new Promise<readonly BoundEndpoint[]>((resolve, reject) => {
    primary.once('ready', resolve);
    primary.on('fatal', (error: Error) => {
      // Before ready this rejects start; after, it stops the server with the reason.
      reject(error);
      // One record, its message in `err` only: the command line prints it once more, on stderr.
      log.fatal({ err: error }, started ? 'server stopped' : 'server cannot start');
      primary.kill();
      void health.close();
      closedWithError = error;
      resolveClosed();
    });
    primary.start().catch(reject);
  }).catch(async (error: unknown) => {
    uninstallSignals();
    primary.kill();
    await health.close();
    throw error;
  });
  started = true;
  if (start.handleSignals) {
    void closed.then(() => {
      if (closedWithError) {
        process.stderr.write(`skein: ${closedWithError.message}\n`);
        process.exit(1);
      }
    });
  }

  const listening = endpoints.map((e) => `${e.service} on ${e.endpoint.replace(/^(tcp6?):0\b/, `$1:${e.port}`)}`).join(', ');
  const metricsUrl = metricsPort !== undefined ? `http://${options.metricsHost}:${metricsPort}/metrics` : 'off';
  log.info(
    { endpoints, metrics: metricsUrl, workers: options.workers, pids: primary.workerPids() },
    `skein ready: ${listening}; metrics ${metricsUrl}; ${options.workers} workers`,
  );
  return { endpoints, metricsPort, workerPids: () => primary.workerPids(), stop, reload: () => primary.reload(), closed };
}
