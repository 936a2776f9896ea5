/**
 * The attack harness: what a cheap, abusive client costs a worker, skein beside
 * hand-written baselines (node:net for the TCP protocols, node:net with a piscina
 * pool for `processed --offload`, node:http for http) in the same run, one worker
 * each, loopback only, bounded in time and memory.
 *
 * For each protocol and shape, a fresh server; N abusive connections each send
 * the shape's bytes (all at once, or one byte per write); meanwhile a probe
 * client on another connection of the same worker sends one request at a time.
 * Each cell runs twice, at N = CONNS and N = 4 × CONNS (skein, baseline, skein,
 * baseline), and the growth G(N) = peak RSS during the window − RSS before is
 * split into its two parts:
 *
 *   per connection = (G(4·CONNS) − G(CONNS)) / (3·CONNS)   the marginal cost of one more abusive connection
 *   fixed          = G(CONNS) − CONNS × per connection     what the process pays once whatever the count
 *                                                          (V8's young generation growing to its maximum,
 *                                                          pool threads' heaps, code compiled on first use)
 *
 * A peak divided by CONNS alone charges that per-process constant to each of
 * the few connections; the slope does not. Also reported: growth per KiB the
 * server accepted (at 4 × CONNS), the worst probe round trip at each count,
 * and for half-close the share of requests answered before the close.
 * With ROUNDS > 1 each count runs that many times and the medians are used.
 * TLS misconfiguration is reported as an outcome (refused to start, served, crashed).
 *
 *   npm run bench:abuse            (env: CONNS=16 ROUNDS=1 WINDOW_MS=3000 ONLY=lines,http SHAPES=tiny-frames)
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { makeCerts } from '../test/helpers/tls.js';
import { CLI, ROOT, rssBytes, startBaseline, startSkein, type BenchServer } from './lib/proc.js';

const CONNS = Number(process.env.CONNS ?? 16);
/** The two connection counts each cell runs at; the slope between them is the cost per connection. */
const COUNTS = [CONNS, 4 * CONNS] as const;
const ROUNDS = Number(process.env.ROUNDS ?? 1);
const WINDOW_MS = Number(process.env.WINDOW_MS ?? 3000);
/** A worker above this is stopped at once (the cell reports "≥ limit"): the machine is shared. */
const RSS_LIMIT = Number(process.env.RSS_LIMIT_MIB ?? 1536) * 1024 * 1024;
const MiB = 1024 * 1024;
const HTTP_BASELINE = fileURLToPath(new URL('./baselines/node-http-cluster.ts', import.meta.url));

// Every server started below (skein's workers, the baselines) can be asked for its GC-settled memory.
const SETTLE_DIR = mkdtempSync(join(tmpdir(), 'skein-abuse-'));
process.env.SKEIN_BENCH_SETTLE_DIR = SETTLE_DIR;
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${new URL('./lib/settle-on-signal.mjs', import.meta.url).href}`.trim();
process.on('exit', () => rmSync(SETTLE_DIR, { recursive: true, force: true }));

/** What `pid`'s main thread holds after two full GCs (heap used + external), bytes; undefined if it did not answer. */
async function settledBytes(pid: number): Promise<number | undefined> {
  const file = join(SETTLE_DIR, `${pid}.json`);
  rmSync(file, { force: true });
  try {
    process.kill(pid, 'SIGUSR2');
  } catch {
    return undefined;
  }
  for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 20));
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as { heapUsed: number; external: number };
    return m.heapUsed + m.external;
  } catch {
    return undefined;
  }
}

type Proto = 'processed' | 'processed-offload' | 'lines' | 'hash' | 'hash-piscina' | 'http';
/**
 * `hash-piscina` is skein's `hash` again, beside a baseline that offloads each digest to piscina as
 * skein does (the `hash` row's baseline runs PBKDF2 on libuv's threads, with no JavaScript per digest):
 * it tells the cost of the pool apart from the cost of the framework. A reference row: the issue's goal
 * is judged on the `hash` row.
 */
const PROTOCOLS: Proto[] = ['processed', 'processed-offload', 'lines', 'hash', 'hash-piscina', 'http'];
const REFERENCE_ROWS: readonly Proto[] = ['hash-piscina'];

interface Attack {
  /** Bytes each abusive connection sends. */
  readonly bytes: Buffer;
  /** Send one byte per write (with Nagle off). */
  readonly oneByte?: boolean;
  /** Half-close after sending, and count the replies. */
  readonly halfClose?: { expected: number; count: (reply: string) => number };
  /** Read (and discard) the replies; otherwise never read. */
  readonly reads?: boolean;
}

const GET = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
const repeatTo = (unit: string, total: number) => Buffer.from(unit.repeat(Math.max(1, Math.floor(total / unit.length))));
const count = (text: string, needle: string) => text.split(needle).length - 1;

/** Each shape, per protocol (undefined: does not apply). */
const SHAPES: Record<string, (p: Proto) => Attack | undefined> = {
  // Many frames for the price of one byte each; the client never reads.
  'tiny-frames': (p) => ({ bytes: p === 'http' ? repeatTo('\r\n', 64 * 1024) : repeatTo('\n', 64 * 1024) }),
  // A frame that never ends.
  'no-newline': (p) => ({ bytes: p === 'http' ? Buffer.concat([Buffer.from('GET /'), repeatTo('a', MiB)]) : repeatTo('a', MiB) }),
  // 1-byte pieces: HTTP chunks of one byte (never finished), others one byte per write.
  'one-byte-chunks': (p) =>
    p === 'http'
      ? { bytes: Buffer.concat([Buffer.from('POST /process HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'), repeatTo('1\r\nA\r\n', MiB)]) }
      : { bytes: repeatTo('ab\n', 1024), oneByte: true },
  // Valid requests whose replies the client never reads.
  'never-reading': (p) => ({ bytes: p === 'http' ? repeatTo(GET, MiB) : repeatTo(`${'x'.repeat(1000)}\n`, MiB) }),
  // Valid requests pipelined as fast as the client can, replies read and discarded.
  pipelined: (p) => ({ bytes: p === 'http' ? repeatTo(GET, MiB) : repeatTo('hello\r\n', MiB), reads: true }),
  // Requests, then FIN: every one must be answered before the server closes.
  'half-close': (p) => {
    // hash: few enough that 4 × CONNS connections' digests (PBKDF2 on the pool) finish inside the window.
    const n = p === 'hash' || p === 'hash-piscina' ? 50 : 1000;
    const unit = p === 'http' ? GET : 'hello\r\n';
    const counter: Record<Proto, (reply: string) => number> = {
      processed: (r) => count(r.replaceAll('Processed: ', ''), 'hello'),
      'processed-offload': (r) => count(r.replaceAll('Processed: ', ''), 'hello'),
      lines: (r) => count(r, 'Processed: hello'),
      hash: (r) => count(r, '\n'),
      'hash-piscina': (r) => count(r, '\n'),
      http: (r) => count(r, 'HTTP/1.1 200'),
    };
    return { bytes: Buffer.from(unit.repeat(n)), halfClose: { expected: n, count: counter[p] }, reads: true };
  },
};

/** One request of the probe, what a complete reply matches, and whether a welcome line comes first. */
const PROBES: Record<Proto, { request: string; done: RegExp; welcome: boolean }> = {
  processed: { request: 'ping', done: /Processed: ping/, welcome: true },
  'processed-offload': { request: 'ping', done: /Processed: ping/, welcome: true },
  lines: { request: 'ping\r\n', done: /Processed: ping\r\n/, welcome: false },
  hash: { request: 'ping\n', done: /[0-9a-f]{64}\n/, welcome: false },
  'hash-piscina': { request: 'ping\n', done: /[0-9a-f]{64}\n/, welcome: false },
  http: { request: 'GET / HTTP/1.1\r\nHost: probe\r\n\r\n', done: /Hello from skein\n/, welcome: false },
};
const PROBE = fileURLToPath(new URL('./lib/abuse-probe.mjs', import.meta.url));

interface Cell {
  impl: string;
  protocol: Proto;
  shape: string;
  conns: number;
  acceptedKiB: number;
  rssBeforeMiB: number;
  rssPeakMiB: number;
  /** Peak RSS during the window − RSS before. */
  growthMiB: number;
  /** growthMiB / conns: the old, naive figure (charges per-process constants to each connection). */
  growthPerConnKiB: number;
  /** Main-thread heap used + external after full GCs, end of window − before, per connection (undefined: no reading). */
  heldPerConnKiB?: number | undefined;
  growthPerKiBSent: number;
  probeWorstMs: number;
  probeReplies: number;
  answered?: string;
  note?: string;
}

async function startServer(impl: 'skein' | 'baseline', protocol: Proto): Promise<BenchServer> {
  if (impl === 'skein') {
    const extra = protocol === 'processed-offload' ? ['--offload'] : [];
    const served = protocol === 'processed-offload' ? 'processed' : protocol === 'hash-piscina' ? 'hash' : protocol;
    return startSkein(served, 1, extra);
  }
  if (protocol !== 'http') return startBaseline(protocol, 0);
  const child = spawn(process.execPath, ['--import', 'tsx', HTTP_BASELINE, '--port', '0', '--workers', '1'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const { port, pids } = JSON.parse(line.toString()) as { port: number; pids: number[] };
  child.stdout.resume();
  return {
    name: 'node:http ×1',
    port,
    workerPids: pids.slice(1),
    allPids: pids,
    async stop() {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function open(port: number): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/**
 * One request at a time on its own connection, from a process of its own (bench/lib/abuse-probe.mjs):
 * records the worst round trip (one still waiting counts).
 */
function startProbe(port: number, protocol: Proto) {
  const { request, done, welcome } = PROBES[protocol];
  const child = fork(PROBE, [String(port), request, done.source, welcome ? '1' : '0'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let replies = 0;
  child.on('message', (m: { replies: number }) => (replies = m.replies));
  return {
    replies: () => replies,
    /** Forgets the warm-up: the worst round trip counts from now. */
    reset() {
      replies = 0;
      child.send('reset');
    },
    async stop(): Promise<{ worst: number; replies: number }> {
      const final = new Promise<{ worst: number; replies: number }>((resolve) => {
        child.on('message', (m: { worst?: number; replies: number }) => {
          if (m.worst !== undefined) resolve({ worst: m.worst, replies: m.replies });
        });
        // A probe that died answers nothing: its worst is unknown.
        child.once('exit', () => resolve({ worst: Number.NaN, replies }));
      });
      child.send('stop');
      return final;
    },
  };
}

function rssOr(pid: number): number | undefined {
  try {
    return rssBytes(pid);
  } catch {
    return undefined;
  }
}

async function runCell(impl: 'skein' | 'baseline', protocol: Proto, shape: string, attack: Attack, conns: number): Promise<Cell> {
  const server = await startServer(impl, protocol);
  const pid = server.workerPids[0]!;
  const notes: string[] = [];
  try {
    // The probe's first answer warms the server up (pool threads started, code compiled): what
    // is measured below is what the abusive connections cost, not a one-time start.
    const probe = startProbe(server.port, protocol);
    const warm = Date.now() + 10_000;
    while (probe.replies() === 0 && Date.now() < warm) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    const settledBefore = await settledBytes(pid);
    const before = rssBytes(pid);
    probe.reset();
    const sockets: Socket[] = [];
    const replies: string[] = [];
    for (let i = 0; i < conns; i++) {
      const s = await open(server.port);
      const index = sockets.push(s) - 1;
      replies[index] = '';
      if (attack.reads) s.on('data', (c: Buffer) => (replies[index] += attack.halfClose ? c.toString('latin1') : ''));
      else s.pause();
    }
    for (const s of sockets) {
      if (attack.oneByte) {
        s.setNoDelay(true);
        for (let i = 0; i < attack.bytes.length; i++) s.write(attack.bytes.subarray(i, i + 1));
      } else s.write(attack.bytes);
      if (attack.halfClose) s.end();
    }
    let peak = before;
    let died = false;
    // A half-closing client waits for its answers (bounded); the others for the window.
    const deadline = performance.now() + (attack.halfClose ? Math.max(WINDOW_MS, 10_000) : WINDOW_MS);
    while (performance.now() < deadline) {
      const now = rssOr(pid);
      if (now === undefined) {
        died = true;
        break;
      }
      peak = Math.max(peak, now);
      if (now > RSS_LIMIT) {
        notes.push(`stopped at ${(now / MiB).toFixed(0)} MiB`);
        break;
      }
      if (attack.halfClose && sockets.every((s, i) => attack.halfClose!.count(replies[i]!) >= attack.halfClose!.expected)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const { worst, replies: probeReplies } = await probe.stop();
    // What the abusive connections hold at the end of the window, garbage collected (they are still open).
    const settledAfter = died ? undefined : await settledBytes(pid);
    let accepted = 0;
    for (const s of sockets) accepted += s.bytesWritten - s.writableLength;
    for (const s of sockets) s.destroy();
    if (died) notes.push('worker died');
    const growth = Math.max(0, peak - before);
    const cell: Cell = {
      impl: impl === 'skein' ? 'skein' : protocol === 'http' ? 'node:http' : protocol === 'processed-offload' ? 'node:net+piscina' : 'node:net',
      protocol,
      shape,
      conns,
      acceptedKiB: Math.round(accepted / 1024),
      rssBeforeMiB: round(before / MiB),
      rssPeakMiB: round(peak / MiB),
      growthMiB: round(growth / MiB),
      growthPerConnKiB: round(growth / conns / 1024),
      heldPerConnKiB: settledBefore !== undefined && settledAfter !== undefined ? round((settledAfter - settledBefore) / conns / 1024) : undefined,
      growthPerKiBSent: round(accepted > 0 ? growth / (accepted / 1024) : 0),
      probeWorstMs: round(worst),
      probeReplies,
    };
    if (attack.halfClose) {
      const got = replies.reduce((sum, r) => sum + Math.min(attack.halfClose!.count(r), attack.halfClose!.expected), 0);
      cell.answered = `${got}/${attack.halfClose.expected * conns}`;
    }
    if (notes.length > 0) cell.note = notes.join('; ');
    return cell;
  } finally {
    await server.stop();
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** TLS misconfiguration: does the server refuse to start, and does a TLS client crash a worker? */
async function tlsOutcomes(): Promise<Array<{ impl: string; case: string; outcome: string }>> {
  const certs = makeCerts();
  const garbage = join(certs.dir, 'garbage.key');
  writeFileSync(garbage, 'not a key\n');
  const other = join(certs.dir, 'other.key');
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', other], { stdio: 'pipe' });
  const cases = [
    { name: 'garbage key', key: garbage },
    { name: 'key does not match cert', key: other },
  ];
  const out: Array<{ impl: string; case: string; outcome: string }> = [];
  for (const c of cases) {
    out.push({ impl: 'skein', case: c.name, outcome: await skeinTls(`tls:0:key=${c.key}:cert=${certs.cert}`) });
    out.push({ impl: 'node:tls', case: c.name, outcome: nodeTls(c.key, certs.cert) });
  }
  out.push({ impl: 'skein', case: 'good pair, 16 clients send garbage', outcome: await skeinTls(`tls:0:key=${certs.key}:cert=${certs.cert}`, true) });
  return out;
}

function nodeTls(key: string, cert: string): string {
  const script = `require('tls').createServer({key:require('fs').readFileSync(${JSON.stringify(key)}),cert:require('fs').readFileSync(${JSON.stringify(cert)})}).listen(0,()=>{console.log('listening');process.exit(0)})`;
  try {
    execFileSync(process.execPath, ['-e', script], { stdio: 'pipe' });
    return 'listens';
  } catch (error) {
    const text = String((error as { stderr?: Buffer }).stderr ?? '');
    return `refuses to start: ${/Error: (.*)/.exec(text)?.[1] ?? 'error'}`;
  }
}

async function skeinTls(endpoint: string, garbage = false): Promise<string> {
  const child = spawn(process.execPath, [CLI, 'serve', 'lines', '--listen', endpoint, '--workers', '1', '--metrics-port', '0'], {
    cwd: ROOT,
    env: { ...process.env, SKEIN_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = once(child, 'exit');
  const ready = await Promise.race([
    new Promise<number>((resolve) => {
      const check = () => {
        const line = output.split('\n').find((l) => l.includes('skein ready'));
        if (line) resolve((JSON.parse(line) as { endpoints: Array<{ port: number }> }).endpoints[0]!.port);
        else setTimeout(check, 50);
      };
      check();
    }),
    exited.then(() => undefined),
    new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000)),
  ]);
  if (ready === undefined) {
    child.kill('SIGKILL');
    const last = output.trim().split('\n').pop() ?? '';
    return `refuses to start (exit ${child.exitCode}): ${last.slice(0, 140)}`;
  }
  for (let i = 0; i < (garbage ? 16 : 5); i++) {
    if (garbage) {
      const s = connect({ port: ready, host: '127.0.0.1' });
      s.on('error', () => {});
      s.write(repeatTo('\x16\x03\x01\xff\xff garbage', 64 * 1024));
      setTimeout(() => s.destroy(), 500);
    } else {
      const s = tlsConnect({ port: ready, host: '127.0.0.1', rejectUnauthorized: false });
      s.on('error', () => {});
      setTimeout(() => s.destroy(), 500);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const crashes = count(output, 'exited (');
  const alive = child.exitCode === null;
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
  return `started; ${crashes} worker crashes; ${alive ? 'still serving' : 'server stopped'}`;
}

const only = process.env.ONLY?.split(',') as Proto[] | undefined;
const onlyShapes = process.env.SHAPES?.split(',');

/** One implementation's cell at both counts, reduced to its marginal and fixed parts. */
interface Summary {
  impl: string;
  protocol: Proto;
  shape: string;
  /** Marginal RSS per abusive connection, KiB: the slope of growth between the two counts. */
  perConnKiB: number;
  /** The part of the growth that does not scale with connections, MiB. */
  fixedMiB: number;
  /** Median RSS growth at each count, MiB. */
  growthMiB: number[];
  /** Growth per KiB accepted, at the larger count. */
  perKiBSent: number;
  /** Main-thread memory held per connection after full GCs, at the larger count, KiB. */
  heldPerConnKiB: number | undefined;
  /** Worst probe round trip at each count, ms. */
  probeWorstMs: number[];
  answered: string[];
  notes: string[];
  runs: Cell[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function summarise(runs: Cell[]): Summary {
  const at = (n: number) => runs.filter((c) => c.conns === n);
  const growth = COUNTS.map((n) => median(at(n).map((c) => c.growthMiB)));
  const [small, large] = COUNTS;
  const perConnMiB = (growth[1]! - growth[0]!) / (large - small);
  const big = at(large);
  const accepted = median(big.map((c) => c.acceptedKiB));
  const first = runs[0]!;
  return {
    impl: first.impl,
    protocol: first.protocol,
    shape: first.shape,
    perConnKiB: round(perConnMiB * 1024),
    fixedMiB: round(growth[0]! - small * perConnMiB),
    growthMiB: growth.map(round),
    perKiBSent: round(accepted > 0 ? (growth[1]! * MiB) / accepted : 0),
    heldPerConnKiB: big.every((c) => c.heldPerConnKiB !== undefined) ? round(median(big.map((c) => c.heldPerConnKiB!))) : undefined,
    probeWorstMs: COUNTS.map((n) => round(Math.max(...at(n).map((c) => c.probeWorstMs)))),
    answered: COUNTS.map((n) => at(n).map((c) => c.answered ?? '').join(' ')).filter((a) => a.trim() !== ''),
    notes: [...new Set(runs.flatMap((c) => (c.note ? [`${c.conns}: ${c.note}`] : [])))],
    runs,
  };
}

const cells: Cell[] = [];
const summaries: Summary[] = [];
const started = new Date();
const loadAtStart = loadavg()[0];
console.log(
  `bench:abuse — ${COUNTS.join(' and ')} connections per cell (slope = per connection), ${ROUNDS} round(s), ${WINDOW_MS} ms window, 1 worker; ${availableParallelism()} cores, node ${process.version}, load ${loadavg()[0]!.toFixed(1)}`,
);
for (const protocol of only ?? PROTOCOLS) {
  for (const [shape, make] of Object.entries(SHAPES)) {
    if (onlyShapes && !onlyShapes.includes(shape)) continue;
    const attack = make(protocol);
    if (!attack) continue;
    const runs: Record<'skein' | 'baseline', Cell[]> = { skein: [], baseline: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const conns of COUNTS) {
        for (const impl of ['skein', 'baseline'] as const) {
          const cell = await runCell(impl, protocol, shape, attack, conns);
          cells.push(cell);
          runs[impl].push(cell);
          console.log(
            `${cell.impl.padEnd(9)} ${protocol.padEnd(17)} ${shape.padEnd(15)} ×${String(conns).padEnd(3)} +${cell.growthMiB} MiB (${cell.growthPerConnKiB} KiB/conn naive, ${cell.heldPerConnKiB ?? '?'} KiB/conn held), ${cell.acceptedKiB} KiB accepted, probe worst ${cell.probeWorstMs} ms (${cell.probeReplies} replies)${cell.answered ? `, answered ${cell.answered}` : ''}${cell.note ? ` [${cell.note}]` : ''}`,
          );
        }
      }
    }
    const s = summarise(runs.skein);
    const b = summarise(runs.baseline);
    summaries.push(s, b);
    console.log(
      `  → ${protocol} ${shape}: skein ${s.perConnKiB} KiB/conn + ${s.fixedMiB} MiB fixed, ${s.heldPerConnKiB ?? '?'} KiB/conn held; baseline ${b.perConnKiB} KiB/conn + ${b.fixedMiB} MiB fixed, ${b.heldPerConnKiB ?? '?'} KiB/conn held`,
    );
  }
}
const tls = only && !only.includes('tls' as Proto) ? [] : await tlsOutcomes();
for (const t of tls) console.log(`${t.impl.padEnd(9)} tls ${t.case}: ${t.outcome}`);

/** skein's marginal cost over the baseline's; "below" when the baseline's is at or below zero and skein's too. */
function ratio(s: number, b: number): string {
  if (b <= 0) return s <= Math.max(b, 0) + 16 ? '≤ baseline' : 'baseline ≈ 0';
  return `${(s / b).toFixed(2)}×`;
}

/**
 * The issue's memory goal for one cell: skein's cost per connection within 1.5× the baseline's, or
 * below the baseline outright (less growth at both counts: a baseline that grows without a bound can
 * show a flat slope between two counts where it is already huge).
 */
function memoryGoal(s: Summary, b: Summary): string {
  if (b.perConnKiB > 0 && s.perConnKiB <= 1.5 * b.perConnKiB) return 'met (≤ 1.5×)';
  if (s.growthMiB.every((g, i) => g <= b.growthMiB[i]!)) return 'met (below baseline)';
  if (b.perConnKiB <= 0 && s.perConnKiB <= 16) return 'met (both ≈ 0)';
  return '**over**';
}

const goals = [];
for (let i = 0; i < summaries.length; i += 2) {
  const goal = memoryGoal(summaries[i]!, summaries[i + 1]!);
  // A reference row says what the goal would read against its baseline, and is not counted.
  goals.push(REFERENCE_ROWS.includes(summaries[i]!.protocol) ? `reference (${goal.replaceAll('*', '')})` : goal);
}
const counted = goals.filter((g) => !g.startsWith('reference'));
const probesOver = summaries.filter((x, i) => i % 2 === 0 && x.probeWorstMs.some((ms) => ms > 100)).map((x) => `${x.protocol} ${x.shape} (${x.probeWorstMs.join(' / ')} ms)`);
console.log(`\nmemory goal met in ${counted.filter((g) => g.startsWith('met')).length} of ${counted.length} cells; skein probes over 100 ms: ${probesOver.length > 0 ? probesOver.join(', ') : 'none'}`);

const md = [
  `${COUNTS.join(' and ')} abusive connections per cell; per connection = slope of RSS growth between the two counts; fixed = growth at ${CONNS} − ${CONNS} × per connection; held = main-thread heap used + external after full GCs at the end of the window − before, per connection, at ${COUNTS[1]}.`,
  '',
  `Memory goal (skein per connection ≤ 1.5 × the baseline's, or less growth than the baseline at both counts) met in ${counted.filter((g) => g.startsWith('met')).length} of ${counted.length} cells (reference rows not counted); skein probes over 100 ms: ${probesOver.length > 0 ? probesOver.join(', ') : 'none'}.`,
  '',
  `| protocol | shape | skein KiB/conn | baseline KiB/conn | ratio | goal | skein growth MiB (${COUNTS.join(' / ')}) | baseline growth MiB (${COUNTS.join(' / ')}) | skein fixed MiB | baseline fixed MiB | skein held KiB/conn | baseline held KiB/conn | skein B per KiB sent | baseline B per KiB sent | skein probe worst ms (${COUNTS.join(' / ')}) | baseline probe worst ms (${COUNTS.join(' / ')}) | half-close answered (skein / baseline) |`,
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
];
for (let i = 0; i < summaries.length; i += 2) {
  const s = summaries[i]!;
  const b = summaries[i + 1]!;
  const note = (c: Summary) => (c.notes.length > 0 ? ` (${c.notes.join('; ')})` : '');
  md.push(
    `| ${s.protocol} | ${s.shape} | ${s.perConnKiB}${note(s)} | ${b.perConnKiB}${note(b)} | ${ratio(s.perConnKiB, b.perConnKiB)} | ${goals[i / 2]} | ${s.growthMiB.join(' / ')} | ${b.growthMiB.join(' / ')} | ${s.fixedMiB} | ${b.fixedMiB} | ${s.heldPerConnKiB ?? '?'} | ${b.heldPerConnKiB ?? '?'} | ${s.perKiBSent} | ${b.perKiBSent} | ${s.probeWorstMs.join(' / ')} | ${b.probeWorstMs.join(' / ')} | ${s.answered.length > 0 ? `${s.answered.join(', ')} / ${b.answered.join(', ')}` : ''} |`,
  );
}
if (tls.length > 0) {
  md.push('', '| TLS case | skein | node:tls |', '|---|---|---|');
  for (const name of [...new Set(tls.map((t) => t.case))]) {
    const get = (impl: string) => tls.find((t) => t.case === name && t.impl === impl)?.outcome ?? '';
    md.push(`| ${name} | ${get('skein')} | ${get('node:tls')} |`);
  }
}
console.log(`\n${md.join('\n')}`);
const stamp = started.toISOString().replace(/[:.]/g, '-');
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const meta = { cores: availableParallelism(), node: process.version, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadavg()[0], counts: COUNTS, rounds: ROUNDS, windowMs: WINDOW_MS };
writeFileSync(
  new URL(`./results/abuse-${stamp}.json`, import.meta.url),
  `${JSON.stringify({ bench: 'abuse', date: started.toISOString(), machine: meta, summaries: summaries.map(({ runs: _, ...rest }) => rest), cells, tls }, null, 2)}\n`,
);
writeFileSync(new URL(`./results/abuse-${stamp}.md`, import.meta.url), `${md.join('\n')}\n`);
process.exit(0); // a server's leftover handle must not keep the harness alive
