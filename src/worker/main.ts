/**
 * The worker process: the primary forks this file (or the user's own script,
 * with `serve()`), hands it a WorkerConfig in its environment, and talks to it
 * only over typed IPC messages.
 */
import type { Socket } from 'node:net';
import { serializeError } from '../shared/protocol/errors.js';
import type { Factory } from '../shared/protocol/factory.js';
import { isSkeinMessage, WORKER_CONFIG_ENV, type BoundEndpoint, type PrimaryMessage, type WorkerConfig, type WorkerMessage } from '../shared/ipc.js';
import { createLogger } from '../shared/log.js';
import { loadFactory } from './load-factory.js';
import { Reactor } from './reactor.js';
import { primaryAccepts, reactorSettings } from '../shared/config/option-table.js';

/** True in a process forked by a skein primary. */
export function isSkeinWorker(): boolean {
  return process.env[WORKER_CONFIG_ENV] !== undefined && typeof process.send === 'function';
}

function send(message: WorkerMessage): void {
  if (process.connected) process.send?.(message);
}

/** How long a drained worker waits for the primary's `skein:exit` before exiting anyway. */
const EXIT_ACK_TIMEOUT_MS = 2000;

/** Resolves when `permit` does or after `timeoutMs`, whichever comes first. */
function within(permit: Promise<void>, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    void permit.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Sends `message` and resolves once it is handed to the channel (or after `boundMs`, whatever happens). */
function sendFlushed(message: WorkerMessage, boundMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, boundMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    if (!process.connected || !process.send) return done();
    try {
      process.send(message, undefined, {}, () => done());
    } catch {
      done();
    }
  });
}

/**
 * Runs the worker side: loads each service's factory (or takes it from
 * `factories`, for `serve({ factory })`), listens, reports ready, and answers
 * the primary's scrapes and drain requests.
 */
export async function runWorker(factories: ReadonlyMap<string, Factory> = new Map()): Promise<void> {
  const config = JSON.parse(process.env[WORKER_CONFIG_ENV] ?? '{}') as WorkerConfig;
  const log = createLogger({ role: 'worker', worker: config.slot });
  // A terminal sends these to the whole process group: only the primary decides.
  for (const signal of ['SIGINT', 'SIGHUP', 'SIGTTIN', 'SIGTTOU'] as const) process.on(signal, () => {});
  // Set once the reactor exists; the handler below is installed before, to catch everything.
  const started: { reactor?: Reactor } = {};
  /** Counters as this worker retires, so the primary's sums lose none of them. */
  const sendFinalMetrics = async (boundMs: number) => {
    if (!started.reactor) return;
    const snapshot = await Promise.race([started.reactor.metrics.cumulativeJSON(), new Promise<undefined>((r) => setTimeout(() => r(undefined), boundMs))]);
    if (snapshot) await sendFlushed({ type: 'skein:metrics:final', metrics: snapshot }, boundMs);
  };
  process.on('uncaughtException', (error) => {
    log.fatal({ err: error }, 'uncaught exception in worker');
    send({ type: 'skein:fatal', error: serializeError(error) });
    // Best effort and bounded: the process may be in a bad state.
    void sendFinalMetrics(250)
      .catch(() => {})
      .finally(() => process.exit(1));
  });
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason }, 'unhandled rejection in worker');
  });
  // The primary is gone: nobody will tell us to drain.
  process.on('disconnect', () => process.exit(0));

  const { options } = config;
  const adopting = primaryAccepts(options.balance);
  const reactor = new Reactor({
    log,
    ...reactorSettings(options),
    // The primary may hold this port for a port-0 endpoint until a worker is about to bind it.
    beforeBind: (endpoint) => {
      if (endpoint.kind !== 'unix') send({ type: 'skein:binding', port: endpoint.port });
    },
  });
  started.reactor = reactor;

  let allowExit!: () => void;
  const exitPermit = new Promise<void>((resolve) => (allowExit = resolve));
  process.on('message', (message: unknown, handle: unknown) => {
    if (!isSkeinMessage(message)) return;
    const m = message as PrimaryMessage;
    if (m.type === 'skein:conn:adopt') {
      const socket = handle as Socket | undefined;
      if (!socket) return send({ type: 'skein:conn:closed', id: m.id });
      socket.once('close', () => send({ type: 'skein:conn:closed', id: m.id }));
      reactor.adopt(m.listener, socket);
    } else if (m.type === 'skein:metrics:req') {
      const collected = m.kind === 'cumulative' ? reactor.metrics.cumulativeJSON('skein') : reactor.metrics.registry.getMetricsAsJSON();
      collected.then(
        (metrics) => send({ type: 'skein:metrics:res', id: m.id, metrics }),
        (error: unknown) => log.error({ err: error }, 'metrics collection failed'),
      );
    } else if (m.type === 'skein:exit') {
      allowExit();
    } else if (m.type === 'skein:drain') {
      // A second drain (the operator insisted) only brings the deadline forward.
      if (reactor.isDraining) {
        void reactor.drain(m.timeoutMs);
        return;
      }
      log.info({ connections: reactor.connectionCount, timeoutMs: m.timeoutMs }, 'draining');
      void reactor
        .drain(m.timeoutMs)
        .then(async () => {
          await sendFinalMetrics(1000).catch(() => {});
          await sendFlushed({ type: 'skein:drained' }, 1000);
          // Should the primary never answer, exit anyway.
          await within(exitPermit, EXIT_ACK_TIMEOUT_MS);
        })
        .finally(() => {
          process.disconnect?.();
          setImmediate(() => process.exit(0));
        });
    }
  });

  const bound: BoundEndpoint[] = [];
  try {
    for (const service of config.services) {
      const factory = factories.get(service.name) ?? (await loadFactory(service.protocol, service.name, service.options));
      if (factories.has(service.name)) {
        factory.options = { ...factory.options, ...service.options };
        factory.protocolName = service.name;
      }
      for (const endpoint of service.listen) {
        if (adopting) await reactor.register(endpoint, factory, service.name);
        else bound.push(await reactor.listen(endpoint, factory, service.name));
      }
    }
  } catch (error) {
    // The primary logs it once, with this stack; a worker without one says it itself.
    if (process.connected) send({ type: 'skein:fatal', error: serializeError(error) });
    else log.error({ err: error }, 'worker failed to start');
    process.exitCode = 1;
    setImmediate(() => process.exit(1));
    return;
  }
  send({ type: 'skein:ready', endpoints: bound });
  // The primary marks a worker whose loop stops turning not ready, then replaces it.
  const beatMs = Math.min(1000, Math.max(100, (options.heartbeatTimeout * 1000) / 5));
  setInterval(() => send({ type: 'skein:heartbeat' }), beatMs).unref();
}
