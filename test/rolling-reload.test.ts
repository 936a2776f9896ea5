import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, scrape, sumSeries } from './helpers/client.js';
import { eventually, freePort, ROOT, startServer, type StartedServer } from './helpers/server.js';

const SKEIN = pathToFileURL(join(ROOT, 'dist/index.js')).href;

/** A protocol module that answers each line with `VERSION PID: line` (the file a deploy rewrites). */
function versionedModule(version: string): string {
  return `import { Protocol } from '${SKEIN}';
export default class Versioned extends Protocol {
  buffer = '';
  dataReceived(data) {
    this.buffer += data.toString();
    let nl;
    while ((nl = this.buffer.indexOf('\\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      this.transport.write('${version} ' + process.pid + ': ' + line + '\\n');
    }
  }
}
`;
}

interface Reply {
  version: string;
  pid: number;
}

function parseReply(line: string, request: string): Reply {
  const match = /^(v\d) (\d+): (.*)$/.exec(line);
  if (!match || match[3] !== request) throw new Error(`unexpected reply ${JSON.stringify(line)} to ${JSON.stringify(request)}`);
  return { version: match[1]!, pid: Number(match[2]) };
}

/** One connection, one request, one reply, close. Never retried: any failure is reported. */
function oneShot(port: number, request: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let reply: Reply | undefined;
    // A connection nobody serves is a failure too (bounded, so the test cannot hang on it).
    socket.setTimeout(10_000, () => socket.destroy(new Error('no reply within 10 s')));
    socket.on('connect', () => socket.write(`${request}\n`));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0 && !reply) {
        try {
          reply = parseReply(text.slice(0, nl), request);
        } catch (error) {
          socket.destroy();
          reject(error as Error);
          return;
        }
        socket.end();
      }
    });
    socket.on('error', (error) => reject(new Error(`${request}: ${error.message}`)));
    socket.on('close', () => (reply ? resolve(reply) : reject(new Error(`${request}: closed before the reply (got ${JSON.stringify(text)})`))));
  });
}

describe('rolling reload on SIGHUP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-reload-'));
  let server: StartedServer | undefined;
  afterAll(async () => {
    // Only after a failure is the server still running.
    await server?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('replaces every worker with fresh code under continuous load, with no connection error and every request answered', async () => {
    const module = join(dir, 'versioned.mjs');
    writeFileSync(module, versionedModule('v1'));
    const running = await startServer([module, '--port', '0', '--workers', '2', '--shutdown-timeout', '30', '--metrics-port', String(await freePort())]);
    server = running;
    const metricsPort = running.metricsPort!;
    const failures: string[] = [];
    const replies: Reply[] = [];
    let connections = 0;
    let stop = false;
    /** Set once every old worker has closed its listener: later connections must reach new workers. */
    let oldListenersClosed = false;
    const afterReload: Reply[] = [];

    // Short connections: open, one request, read the reply, close; four loops at once.
    const shortLoops = [0, 1, 2, 3].map(async (loop) => {
      for (let n = 0; !stop; n++) {
        connections++;
        const late = oldListenersClosed;
        try {
          const reply = await oneShot(running.port, `short ${loop}-${n}`);
          replies.push(reply);
          if (late) afterReload.push(reply);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    });
    // Long sessions kept open across the reload: they stay with their old worker until they close.
    const longReplies: Reply[] = [];
    const longLoops = [0, 1].map(async (k) => {
      const client = await connectClient(running.port);
      connections++;
      let seen = 0;
      for (let n = 0; !stop; n++) {
        const request = `long ${k}-${n}`;
        client.write(`${request}\n`);
        try {
          const text = await client.waitFor((t) => t.split('\n').length - 1 > seen);
          longReplies.push(parseReply(text.split('\n')[seen]!, request));
          seen++;
        } catch (error) {
          failures.push((error as Error).message);
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      client.end();
      const { hadError } = await client.closed();
      if (hadError) failures.push(`long session ${k} closed with an error`);
    });

    await eventually(() => replies.length >= 20 && longReplies.length >= 4);
    const before = sumSeries(await scrape(metricsPort), 'skein_connections_total');

    // Deploy: new code on disk, then SIGHUP.
    writeFileSync(module, versionedModule('v2'));
    running.child.kill('SIGHUP');
    const done = await running.waitForLog((l) => l.msg.startsWith('reload complete'));
    const newPids = done.pids as number[];
    // An old worker logs 'draining' right after closing its listener.
    for (const pid of running.pids) await running.waitForLog((l) => l.msg === 'draining' && l.pid === pid);
    oldListenersClosed = true;
    await eventually(() => afterReload.length >= 20);
    const during = sumSeries(await scrape(metricsPort), 'skein_connections_total');
    stop = true;
    await Promise.all([...shortLoops, ...longLoops]);

    expect(failures).toEqual([]);
    // Every short connection was answered (the other two were the long sessions).
    expect(replies.length).toBe(connections - 2);
    expect(newPids).toHaveLength(2);
    for (const pid of newPids) expect(running.pids).not.toContain(pid);
    // New connections after the reload reach only new workers and run the new code.
    for (const r of afterReload) {
      expect(r.version).toBe('v2');
      expect(newPids).toContain(r.pid);
    }
    // Long sessions finished on the workers that accepted them.
    for (const r of longReplies) expect(r.version).toBe('v1');

    // Metrics: counters never fell while two workers shared a slot, and the retired workers' totals are kept.
    expect(during).toBeGreaterThanOrEqual(before);
    await eventually(async () => sumSeries(await scrape(metricsPort), 'skein_connections_total') === connections);
    const metrics = await scrape(metricsPort);
    expect(sumSeries(metrics, 'skein_workers_alive')).toBe(2);
    expect(sumSeries(metrics, 'skein_worker_restarts_total')).toBe(0);

    expect(await running.stop()).toBe(0);
  });

  it('keeps the running workers when the new code cannot start', async () => {
    const module = join(dir, 'deploy.mjs');
    writeFileSync(module, versionedModule('v1'));
    const running = await startServer([module, '--port', '0', '--workers', '2', '--metrics-port', '0']);
    server = running;
    writeFileSync(module, `throw new Error('bad deploy');\n`);
    running.child.kill('SIGHUP');
    const failed = await running.waitForLog((l) => l.msg.startsWith('replacement for worker 0 failed to start'));
    expect(failed.msg).toMatch(/bad deploy/);
    await running.waitForLog((l) => l.msg.startsWith('reload stopped after 0 workers'));
    for (let i = 0; i < 4; i++) {
      const reply = await oneShot(running.port, `after ${i}`);
      expect(reply.version).toBe('v1');
      expect(running.pids).toContain(reply.pid);
    }
    // Fixed code, another SIGHUP: the reload goes through.
    writeFileSync(module, versionedModule('v3'));
    running.child.kill('SIGHUP');
    await running.waitForLog((l) => l.msg.startsWith('reload complete'));
    for (const pid of running.pids) await running.waitForLog((l) => l.msg === 'draining' && l.pid === pid);
    expect((await oneShot(running.port, 'fixed')).version).toBe('v3');
    expect(await running.stop()).toBe(0);
  });
});
