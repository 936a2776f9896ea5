/**
 * The baselines: skein's built-in protocols hand-written directly on node:net,
 * as a careful Node developer would without a framework. Single process, or
 * under node:cluster with the same worker count as skein (round-robin, as skein).
 *
 *   node --import tsx bench/baselines/net-server.ts PROTOCOL --port N [--workers W] [--greeting TEXT]
 *
 * PROTOCOL: `processed` (welcome line, then each chunk answered `Processed: ` +
 * chunk), `processed-offload` (the same, each chunk processed on a piscina pool of
 * as many threads as skein's per worker, one chunk at a time per connection,
 * replies in order: reading pauses while a chunk is on the pool), `lines` (each line, ended by `\r\n` or a bare `\n` as in skein, answered `Processed: <line>\r\n`) or `hash`
 * (each `\n` line answered with its PBKDF2 digest, as skein's `hash`: one digest at a
 * time per connection on libuv's thread pool, in order, none started once the socket closed;
 * after a half-close, the lines already sent are still answered) or `hash-piscina` (the same,
 * each digest on a piscina pool of as many threads as skein's per worker).
 * Prints one JSON line `{"ready":true,"port":…,"pids":[…]}` when every process listens.
 */
import cluster from 'node:cluster';
import { pbkdf2 } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { port: { type: 'string' }, workers: { type: 'string' }, greeting: { type: 'string' } },
});
const protocol = positionals[0] ?? 'processed';
const port = Number(values.port ?? 0);
const workers = Number(values.workers ?? 0);

const PREFIX = Buffer.from('Processed: ');
const CRLF = Buffer.from('\r\n');
const WELCOME = 'Welcome to my network application!\r\n';

/** `processed`: the seed's protocol. */
function processed(socket: Socket): void {
  socket.write(WELCOME);
  socket.on('data', (data: Buffer) => socket.write(Buffer.concat([PREFIX, data])));
}

let pool: Piscina | undefined;

/**
 * `processed-offload`: each chunk on a pool thread, one at a time per connection (reading paused meanwhile).
 * A client that half-closes gets the replies to every chunk it sent, then the close (as skein's).
 */
function processedOffload(socket: Socket): void {
  pool ??= new Piscina({
    filename: new URL('../fixtures/processed-piscina.mjs', import.meta.url).href,
    minThreads: 0,
    maxThreads: Math.max(1, Math.floor(availableParallelism() / Math.max(1, workers))),
  });
  const run = pool;
  let busy = false;
  let ended = false;
  // The FIN can be read while a chunk is on the pool: then the close waits for its reply.
  socket.on('end', () => {
    ended = true;
    if (!busy) socket.end();
  });
  socket.write(WELCOME);
  socket.on('data', (data: Buffer) => {
    socket.pause();
    busy = true;
    run.run(data).then(
      (reply: Uint8Array) => {
        busy = false;
        if (socket.destroyed) return;
        if (ended) socket.end(reply);
        else if (socket.write(reply)) socket.resume();
        else socket.once('drain', () => socket.resume());
      },
      () => socket.destroy(),
    );
  });
}

/**
 * `lines`: a line receiver (delimiter `\r\n`, and a bare `\n` also ends a line, as skein's `lines`),
 * one reply per line, the replies of one read in one write.
 */
function lines(socket: Socket, greeting: string | undefined): void {
  if (greeting) socket.write(greeting);
  let pending: Buffer | undefined;
  socket.on('data', (chunk: Buffer) => {
    const data = pending ? Buffer.concat([pending, chunk]) : chunk;
    const out: Buffer[] = [];
    let start = 0;
    let end;
    while ((end = data.indexOf(10, start)) !== -1) {
      out.push(PREFIX, data.subarray(start, end > start && data[end - 1] === 13 ? end - 1 : end), CRLF);
      start = end + 1;
    }
    pending = start < data.length ? Buffer.from(data.subarray(start)) : undefined;
    if (out.length > 0) socket.write(Buffer.concat(out));
  });
}

/** Computes one line's digest and calls back with it (hex), or with nothing when it failed. */
type Digester = (line: Buffer, done: (hex: string | undefined) => void) => void;

/** `hash` on libuv's thread pool (node:crypto's asynchronous PBKDF2): no JavaScript object per digest off the main thread. */
const libuvDigest: Digester = (line, done) => {
  pbkdf2(line, 'skein-hash', HASH_ROUNDS, 32, 'sha256', (error, key) => done(error ? undefined : key.toString('hex')));
};

/**
 * `hash-piscina`: the same digest on a piscina pool of as many threads as skein's per worker, started
 * with the server as skein's pool is (so that the threads' own memory is not counted as the attack's).
 */
const hashThreads = Math.max(1, Math.floor(availableParallelism() / Math.max(1, workers)));
const hashPool =
  protocol === 'hash-piscina' && !(workers > 0 && cluster.isPrimary)
    ? new Piscina({ filename: new URL('../fixtures/hash-piscina.mjs', import.meta.url).href, minThreads: hashThreads, maxThreads: hashThreads })
    : undefined;
// Every thread has loaded the processor before the server says it is ready.
if (hashPool) await Promise.all(Array.from({ length: hashThreads }, () => hashPool.run({ line: new Uint8Array(1), rounds: 1 })));

const piscinaDigest: Digester = (line, done) => {
  // A copy of its own bytes, as skein's `hash` sends: a pooled Buffer would clone its whole 8 KiB slab to the thread.
  hashPool!.run({ line: new Uint8Array(line), rounds: HASH_ROUNDS }).then(
    (hex: string) => done(hex),
    () => done(undefined),
  );
};

/**
 * `hash`: LF lines, each answered by its digest in order; the next digest starts when the last is written.
 * A client that half-closes gets the digests of every line it sent, then the close (as skein's `hash`).
 */
function hash(socket: Socket, digest: Digester): void {
  const queue: Buffer[] = [];
  let pending: Buffer | undefined;
  let busy = false;
  let ended = false;
  socket.on('end', () => {
    ended = true;
    if (!busy) socket.end();
  });
  const next = (): void => {
    const line = queue.shift();
    if (line === undefined || socket.destroyed) {
      busy = false;
      if (ended) socket.end();
      return;
    }
    busy = true;
    digest(line, (hex) => {
      if (hex !== undefined) socket.write(`${hex}\n`);
      next();
    });
  };
  socket.on('data', (chunk: Buffer) => {
    const data = pending ? Buffer.concat([pending, chunk]) : chunk;
    let start = 0;
    let end;
    while ((end = data.indexOf(10, start)) !== -1) {
      const stop = end > start && data[end - 1] === 13 ? end - 1 : end;
      queue.push(Buffer.from(data.subarray(start, stop)));
      start = end + 1;
    }
    pending = start < data.length ? Buffer.from(data.subarray(start)) : undefined;
    if (!busy) next();
  });
}

const HASH_ROUNDS = 8000; // skein's hash default

function serve(onListening: (port: number) => void): void {
  // Only `hash` and `processed-offload` have replies still to come when the client half-closes; the others answer each read at once.
  const server = createServer({ allowHalfOpen: protocol === 'hash' || protocol === 'hash-piscina' || protocol === 'processed-offload' }, (socket) => {
    socket.on('error', () => {});
    if (protocol === 'lines') lines(socket, values.greeting);
    else if (protocol === 'hash') hash(socket, libuvDigest);
    else if (protocol === 'hash-piscina') hash(socket, piscinaDigest);
    else if (protocol === 'processed-offload') processedOffload(socket);
    else processed(socket);
  });
  server.listen(port, () => onListening((server.address() as { port: number }).port));
}

if (workers > 0 && cluster.isPrimary) {
  if (port === 0) throw new Error('--workers needs a fixed --port (the bench picks a free one)');
  cluster.schedulingPolicy = cluster.SCHED_RR; // as skein's primary
  cluster.setupPrimary({ execArgv: process.execArgv });
  const pids: number[] = [];
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork();
    worker.on('message', (m: { listening?: number }) => {
      if (m.listening === undefined) return;
      pids.push(worker.process.pid!);
      if (pids.length === workers) console.log(JSON.stringify({ ready: true, port, pids }));
    });
  }
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    process.exit(0);
  });
} else if (cluster.isWorker) {
  serve((p) => process.send!({ listening: p }));
} else {
  serve((p) => console.log(JSON.stringify({ ready: true, port: p, pids: [process.pid] })));
  process.on('SIGTERM', () => process.exit(0));
}
