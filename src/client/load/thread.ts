/**
 * Worker-thread entry of `skein load`: runs one engine over its share of the
 * connections. Messages: `ready` after connecting; on `warm` (seconds) a warm-up
 * and then `warm`; on `go` cumulative `progress` once a second and one `result`
 * (the histogram compressed).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { LoadEngine, type EngineOptions } from './engine.js';
import type { RunnerMessage, ThreadMessage } from './runner.js';

const port = parentPort!;
const options = workerData as EngineOptions;
// Buffers arrive as plain Uint8Arrays after the structured clone.
const engine = new LoadEngine({ ...options, spec: { ...options.spec, payload: Buffer.from(options.spec.payload) } });
const post = (message: ThreadMessage) => port.postMessage(message);

try {
  await engine.connect();
  post({ type: 'ready' });
  const next = () => new Promise<RunnerMessage>((resolve) => port.once('message', resolve));
  let message = await next();
  if (message.type === 'warm') {
    await engine.warm(message.seconds);
    post({ type: 'warm' });
    message = await next();
  }
  const result = await engine.run((p) => post({ type: 'progress', ...p }));
  post({
    type: 'result',
    completed: result.completed,
    errors: result.errors,
    elapsed: result.elapsed,
    stalled: result.stalled,
    histogram: encodeIntoCompressedBase64(result.histogram),
  });
} catch (error) {
  post({ type: 'error', message: (error as Error).message });
}
