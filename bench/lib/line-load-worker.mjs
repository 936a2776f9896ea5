// One load-generator thread: `connections` TCP connections, each keeping `depth`
// newline-terminated requests in flight (a closed loop), for `durationMs`.
// Records each reply's latency (µs) in an HdrHistogram and posts it back.
// Plain JavaScript: on Node 20 worker threads cannot load .ts files.
import { Buffer } from 'node:buffer';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout } from 'node:timers';
import { parentPort, workerData } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';

const { port, connections, depth, durationMs, line, skipFirstLine } = workerData;
const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
const payload = Buffer.from(`${line}\n`);
const deadline = performance.now() + durationMs;
let count = 0;

function run() {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.setNoDelay(true);
    const sent = [];
    let skip = skipFirstLine;
    let inFlight = 0;
    const send = () => {
      sent.push(performance.now());
      inFlight++;
      socket.write(payload);
    };
    socket.on('connect', () => {
      for (let i = 0; i < depth; i++) send();
    });
    socket.on('data', (chunk) => {
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) {
        if (skip) {
          skip = false;
          continue;
        }
        const now = performance.now();
        histogram.recordValue(Math.max(1, Math.round((now - sent.shift()) * 1000)));
        count++;
        inFlight--;
        if (now < deadline) send();
        else if (inFlight === 0) socket.end();
      }
    });
    socket.on('error', () => {});
    socket.on('close', resolve);
    // Bounded: replies still missing 10 s after the deadline are abandoned.
    setTimeout(() => socket.destroy(), durationMs + 10_000).unref();
  });
}

await Promise.all(Array.from({ length: connections }, run));
parentPort.postMessage({ count, histogram: hdr.encodeIntoCompressedBase64(histogram) });
