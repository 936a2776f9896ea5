/**
 * Differential test: the same raw byte streams go to node:http (in this
 * process) and to `skein serve http` (the real CLI). skein must accept exactly
 * when node:http accepts, and refuse with the same status, unless the case
 * names a deliberate difference that docs/http.md lists (test/fixtures/http-corpus.ts).
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORPUS, type CorpusCase } from './fixtures/http-corpus.js';
import { exchange, type RawExchange } from './helpers/raw-http.js';
import { startServer, type StartedServer } from './helpers/server.js';

type Verdict = { kind: 'accept' } | { kind: 'reject'; status: number } | { kind: 'none' };

function verdictOf(x: RawExchange): Verdict {
  if (x.statuses.length === 0) return { kind: 'none' };
  const refused = x.statuses.find((s) => s >= 400);
  return refused === undefined ? { kind: 'accept' } : { kind: 'reject', status: refused };
}

function show(v: Verdict): string {
  return v.kind === 'reject' ? `reject ${v.status}` : v.kind;
}

/** Runs `fn` over `items`, `limit` at a time. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

describe('http: accept/reject parity with node:http', () => {
  let skein: StartedServer;
  let node: Server;
  let nodePort: number;

  beforeAll(async () => {
    node = createServer((req, res) => {
      let length = 0;
      req.on('data', (c: Buffer) => (length += c.length));
      req.on('end', () => res.end(`ok ${req.method} ${req.url} ${length}\n`));
    });
    node.listen(0, '127.0.0.1');
    await once(node, 'listening');
    nodePort = (node.address() as { port: number }).port;
    skein = await startServer(['http', '--port', '0', '--workers', '1', '--metrics-port', '0', '--option', 'handler=test/fixtures/http-echo-handler.ts']);
    // One answered request first: on a busy host the first answers (code still loading) can
    // take longer than the corpus's quiet period, which would read as "no answer".
    await exchange(skein.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 5000);
  });

  afterAll(async () => {
    node?.closeAllConnections();
    node?.close();
    expect(await skein?.stop()).toBe(0);
  });

  it(`agrees on ${CORPUS.length} request streams, or the difference is a listed one`, async () => {
    const results = await mapLimit(CORPUS, 16, async (c: CorpusCase) => {
      const [n, s] = await Promise.all([exchange(nodePort, c.raw), exchange(skein.port, c.raw)]);
      return { c, node: verdictOf(n), skein: verdictOf(s) };
    });
    if (process.env.HTTP_DIFF_REPORT) for (const r of results) console.log(`${r.c.name.padEnd(60)} node ${show(r.node).padEnd(12)} skein ${show(r.skein)}`);
    const problems: string[] = [];
    for (const { c, node: n, skein: s } of results) {
      const expected: Verdict = c.skein === undefined ? { kind: 'accept' } : { kind: 'reject', status: c.skein };
      if (show(s) !== show(expected)) problems.push(`${c.name}: skein ${show(s)}, expected ${show(expected)} (node: ${show(n)})`);
      const same = show(n) === show(s);
      if (same && c.known) problems.push(`${c.name}: listed as a difference (${c.known}) but both ${show(s)}`);
      if (!same && !c.known) problems.push(`${c.name}: node ${show(n)}, skein ${show(s)}, and no listed reason`);
    }
    expect(problems).toEqual([]);
  });
});
