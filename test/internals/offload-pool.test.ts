import { getEventListeners } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NoProcessorError, OffloadCancelledError, OffloadOverloadError } from '../../src/shared/protocol/errors.js';
import type { OffloadRequest, PausableReading } from '../../src/shared/protocol/services.js';
import { FairQueue } from '../../src/worker/pool/fair-queue.js';
import { Fifo } from '../../src/worker/pool/fifo.js';
import { OffloadPool, POOL_QUEUE, type PoolOptions } from '../../src/worker/pool/offload-pool.js';
import { resolvePoolSettings } from '../../src/shared/config/option-table.js';
import { UtilizationWindow } from '../../src/worker/pool/offload-stats.js';
import { eventually } from '../helpers/server.js';

const PROCESSORS = fileURLToPath(new URL('../fixtures/offload-processors.ts', import.meta.url));

/** Records pause/resume calls the way a SocketTransport would see them. */
class FakeConnection implements PausableReading {
  readonly events: string[] = [];
  paused = false;
  pauseReading(reason: string): void {
    this.events.push(`pause:${reason}`);
    this.paused = true;
  }
  resumeReading(reason: string): void {
    this.events.push(`resume:${reason}`);
    this.paused = false;
  }
}

let pool: OffloadPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

/** One default pool (1 thread, queue 1) for the tests that do not depend on sizing: threads start once. */
let shared: OffloadPool | undefined;
function sharedPool(): OffloadPool {
  return (shared ??= new OffloadPool(resolvePoolSettings({ threads: 1, maxQueue: 1 })));
}
afterAll(async () => {
  await shared?.close();
});

function makePool(options: Partial<PoolOptions>): OffloadPool {
  pool = new OffloadPool(resolvePoolSettings({ threads: 1, maxQueue: 1, ...options }));
  return pool;
}

function request(task: string, payload: unknown, extra: Partial<OffloadRequest> = {}): OffloadRequest {
  return { processors: PROCESSORS, task, payload, protocol: 'test', ...extra };
}

describe('OffloadPool', () => {
  it('runs processors on a pool thread', async () => {
    const p = sharedPool();
    const threadId = await p.run(request('thread', undefined));
    expect(threadId).toBeTypeOf('number');
    expect(threadId).not.toBe(0);
  });

  it('starts all its threads at the first task, and stops them all once idle for the idle timeout', async () => {
    // One by one, a thread started under load takes 50-100 ms to boot while tasks (another client's) wait for it.
    const p = makePool({ threads: 2, maxQueue: 4, idleTimeoutSeconds: 0.3 });
    expect(p.threadCount).toBe(0);
    await p.run(request('thread', undefined));
    expect(p.threadCount).toBe(2);
    await eventually(() => p.threadCount === 0);
    const ids = await Promise.all([p.run(request('sleep', { id: 1, ms: 50 })), p.run(request('sleep', { id: 2, ms: 50 }))]);
    expect(ids).toEqual([1, 2]);
    expect(p.threadCount).toBe(2);
  });

  it('pauses a connection whose tasks find the queue full, keeps the queue bounded, and resumes when they get in', async () => {
    const p = makePool({ threads: 1, maxQueue: 2 });
    const connection = new FakeConnection();
    let maxQueue = 0;
    const sampler = setInterval(() => (maxQueue = Math.max(maxQueue, p.queueSize)), 1);
    const results = Array.from({ length: 8 }, (_, id) => p.run(request('spin', { id, ms: 15 }, { connection })));
    maxQueue = Math.max(maxQueue, p.queueSize);
    expect(p.runningSize).toBe(1);
    expect(p.queueSize).toBe(2);
    expect(p.waitingSize).toBe(5);
    expect(connection.paused).toBe(true);
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    clearInterval(sampler);
    expect(maxQueue).toBeLessThanOrEqual(2);
    expect(connection.events).toEqual([`pause:${POOL_QUEUE}`, `resume:${POOL_QUEUE}`]);
    const counts = [...p.stats][0]!;
    expect(counts).toMatchObject({ completed: 8, failed: 0, cancelled: 0, rejected: 0, queued: 0 });
  });

  it('lets waiting tasks in round-robin by connection, so one deep pipeline does not starve the others', async () => {
    const p = makePool({ threads: 1, maxQueue: 1 });
    const [a, b] = [new FakeConnection(), new FakeConnection()];
    const order: string[] = [];
    const run = (connection: FakeConnection, id: string) => p.run(request('echo', id, { connection })).then((v) => order.push(v as string));
    const all = [...Array.from({ length: 10 }, (_, i) => run(a, `a${i}`)), run(b, 'b0'), run(b, 'b1')];
    await Promise.all(all);
    expect(order).toEqual(['a0', 'a1', 'a2', 'b0', 'a3', 'b1', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9']);
    expect(a.events).toEqual([`pause:${POOL_QUEUE}`, `resume:${POOL_QUEUE}`]);
    expect(b.events).toEqual([`pause:${POOL_QUEUE}`, `resume:${POOL_QUEUE}`]);
  });

  it('runs the task of a connection that had none in the pool ahead of the backlogged connections', async () => {
    const p = makePool({ threads: 1, maxQueue: 1 });
    const floods = Array.from({ length: 6 }, () => new FakeConnection());
    const probe = new FakeConnection();
    const order: string[] = [];
    const run = (connection: FakeConnection, id: string) => p.run(request('echo', id, { connection })).then((v) => order.push(v as string));
    const all = floods.flatMap((c, n) => Array.from({ length: 4 }, (_, i) => run(c, `f${n}.${i}`)));
    // Answered, the probe asks again at once: it waits for the task running and the one queued, not for a round of six.
    all.push(run(probe, 'p1').then(() => run(probe, 'p2')));
    await Promise.all(all);
    expect(order.indexOf('p2') - order.indexOf('p1')).toBe(3);
    expect(order.length).toBe(26);
  });

  it('rejects with OffloadOverloadError under the reject policy, without pausing', async () => {
    const p = makePool({ threads: 1, maxQueue: 1, overload: 'reject' });
    const connection = new FakeConnection();
    const results = await Promise.allSettled(Array.from({ length: 4 }, (_, id) => p.run(request('spin', { id, ms: 10 }, { connection }))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(OffloadOverloadError);
    expect(connection.events).toEqual([]);
    expect([...p.stats][0]).toMatchObject({ completed: 2, rejected: 2 });
  });

  it('cancels queued and waiting tasks of a lost connection and resumes nothing twice', async () => {
    const p = makePool({ threads: 1, maxQueue: 1 });
    const connection = new FakeConnection();
    const lifetime = new AbortController();
    const other = p.run(request('spin', { id: 'other', ms: 40 }));
    const mine = Array.from({ length: 3 }, (_, id) => p.run(request('spin', { id, ms: 10 }, { connection, lifetime: lifetime.signal })));
    expect(p.queueSize).toBe(1);
    expect(p.waitingSize).toBe(2);
    lifetime.abort();
    const settled = await Promise.allSettled(mine);
    for (const s of settled) expect((s as PromiseRejectedResult).reason).toBeInstanceOf(OffloadCancelledError);
    expect(p.queueSize).toBe(0);
    expect(p.waitingSize).toBe(0);
    expect(connection.events).toEqual([`pause:${POOL_QUEUE}`, `resume:${POOL_QUEUE}`]);
    expect(await other).toBe('other');
    expect([...p.stats][0]).toMatchObject({ completed: 1, cancelled: 3, queued: 0 });
  });

  it('adds one abort listener per connection however many of its tasks wait, and cancels them all', async () => {
    const p = makePool({ threads: 1, maxQueue: 1 });
    const connection = new FakeConnection();
    const lifetime = new AbortController();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const tasks = Array.from({ length: 2000 }, (_, id) => p.run(request('spin', { id, ms: 0 }, { connection, lifetime: lifetime.signal })));
      expect(getEventListeners(lifetime.signal, 'abort')).toHaveLength(1);
      lifetime.abort();
      const settled = await Promise.allSettled(tasks);
      expect(settled.filter((s) => s.status === 'rejected').length).toBeGreaterThanOrEqual(1998);
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('moves transferred buffers instead of copying them, and hands Buffers back as Buffers', async () => {
    const p = sharedPool();
    const payload = new Uint8Array(Buffer.from('moved')); // its own ArrayBuffer (Buffer's 8 KiB pool cannot be moved)
    const copy = Buffer.from(payload);
    const back = await p.run(request('echo', payload, { options: { transfer: [payload.buffer] } }));
    expect(payload.buffer.byteLength).toBe(0); // detached: it was moved
    expect(Buffer.isBuffer(back)).toBe(true);
    expect((back as Buffer).equals(copy)).toBe(true);
  });

  it('moves a large binary payload and result as one copy each way, leaving the caller\'s buffer intact', async () => {
    const p = sharedPool();
    const payload = new Uint8Array(64 * 1024).fill(7); // its own whole ArrayBuffer: moving it as is would detach it
    const back = await p.run(request('echo', payload));
    expect(payload.buffer.byteLength).toBe(64 * 1024); // not detached: a copy crossed
    expect(Buffer.isBuffer(back)).toBe(true);
    expect((back as Buffer).equals(Buffer.from(payload))).toBe(true);
  });

  it('names a missing processor with NoProcessorError', async () => {
    const p = sharedPool();
    await expect(p.run(request('nope', undefined))).rejects.toBeInstanceOf(NoProcessorError);
  });

  it('terminates (and replaces) the thread of a cancelled task that ignores its signal past the grace period', async () => {
    const p = makePool({ threads: 1, abortGraceSeconds: 0.2 });
    const first = await p.run(request('thread', undefined));
    const controller = new AbortController();
    const started = new Int32Array(new SharedArrayBuffer(4));
    const stubborn = p.run(request('stubborn', { started, ms: 60_000 }, { options: { signal: controller.signal } }));
    while (Atomics.load(started, 0) === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await expect(stubborn).rejects.toBeInstanceOf(OffloadCancelledError);
    // With its only thread stuck for a minute, this answers only because the thread was replaced.
    const next = await p.run(request('thread', undefined));
    expect(next).not.toBe(first);
    expect([...p.stats][0]).toMatchObject({ cancelled: 1, failed: 0 });
  });

  it('lets work a processor left running go on while its thread waits for the next task', async () => {
    // piscina's default blocks an idle thread in Atomics.wait: a timer a processor started would not fire until another task came.
    const dir = mkdtempSync(join(tmpdir(), 'skein-afterwards-'));
    try {
      const p = makePool({ threads: 1 });
      await expect(p.run(request('afterwards', { dir, id: 1 }))).resolves.toBe('returned');
      await eventually(() => expect(existsSync(join(dir, 'later-1'))).toBe(true));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects at once when the signal is already aborted', async () => {
    const p = sharedPool();
    await expect(p.run(request('echo', 'x', { options: { signal: AbortSignal.abort() } }))).rejects.toBeInstanceOf(OffloadCancelledError);
  });
});

describe('Fifo', () => {
  it('shifts in push order and skips removed entries', () => {
    const q = new Fifo<{ n: number }>();
    const items = Array.from({ length: 2000 }, (_, n) => ({ n }));
    for (const item of items) q.push(item);
    expect(q.remove(items[1]!)).toBe(true);
    expect(q.remove(items[1]!)).toBe(false);
    const out: number[] = [];
    for (let i = 0; i < 1500; i++) out.push(q.shift()!.n);
    expect(q.remove(items[1999]!)).toBe(true);
    for (let item = q.shift(); item; item = q.shift()) out.push(item.n);
    expect(out).toEqual(items.map((i) => i.n).filter((n) => n !== 1 && n !== 1999));
    expect(q.size).toBe(0);
  });
});

describe('FairQueue', () => {
  it('serves lanes round-robin, in order within a lane, and removes from anywhere', () => {
    const q = new FairQueue<{ lane: object; id: string }>((item) => item.lane);
    const [x, y] = [{}, {}];
    const items = ['x1', 'x2', 'x3', 'y1', 'y2'].map((id) => ({ lane: id[0] === 'x' ? x : y, id }));
    for (const item of items) q.push(item);
    expect(q.remove(items[1]!)).toBe(true);
    expect(q.size).toBe(4);
    const out: string[] = [];
    for (let item = q.shift(); item; item = q.shift()) out.push(item.id);
    expect(out).toEqual(['x1', 'y1', 'y2', 'x3']);
    expect(q.remove(items[0]!)).toBe(false);
    expect(q.size).toBe(0);
  });

  it('serves a connection that was idle before the backlogged ones, then in turn', () => {
    const q = new FairQueue<{ lane: object; id: string }>((item) => item.lane);
    const lanes = [{}, {}, {}];
    // Three backlogged connections, three tasks each, served in turns.
    for (let i = 1; i <= 3; i++) for (const [n, lane] of lanes.entries()) q.push({ lane, id: `${n}.${i}` });
    const out = [q.shift()!.id, q.shift()!.id, q.shift()!.id, q.shift()!.id];
    expect(out).toEqual(['0.1', '1.1', '2.1', '0.2']);
    // A probe arrives: it goes next, ahead of the five tasks already waiting.
    const probe = {};
    q.push({ lane: probe, id: 'probe' }, true);
    expect(q.shift()!.id).toBe('probe');
    expect(q.shift()!.id).toBe('1.2');
    // Answered, it asks again at once (more than its share of this round): idle, it still goes next.
    q.push({ lane: probe, id: 'probe again' }, true);
    expect(q.shift()!.id).toBe('probe again');
    const rest: string[] = [];
    for (let item = q.shift(); item; item = q.shift()) rest.push(item.id);
    expect(rest).toEqual(['2.2', '0.3', '1.3', '2.3']);
  });

  it('serves a probe before the first tasks of floods that opened a moment earlier', () => {
    const q = new FairQueue<{ lane: object; id: string }>((item) => item.lane);
    // 64 connections open at once; each one's first task arrives idle, then its flood queues behind it.
    const floods = Array.from({ length: 64 }, () => ({}));
    for (const [n, lane] of floods.entries()) {
      q.push({ lane, id: `${n}.1` }, true);
      for (let i = 2; i <= 4; i++) q.push({ lane, id: `${n}.${i}` });
    }
    const probe = {};
    q.push({ lane: probe, id: 'probe' }, true);
    expect(q.shift()!.id).toBe('probe');
    // The floods then take turns, each in its own order.
    const out: string[] = [];
    for (let item = q.shift(); item; item = q.shift()) out.push(item.id);
    expect(out.slice(0, 3)).toEqual(['0.1', '1.1', '2.1']);
    expect(out).toHaveLength(64 * 4);
    for (const n of [0, 31, 63]) expect(out.filter((id) => id.startsWith(`${n}.`))).toEqual([1, 2, 3, 4].map((i) => `${n}.${i}`));
  });

  it('keeps the edge of an idle task that is still its connection\'s only one', () => {
    const q = new FairQueue<{ lane: object; id: string }>((item) => item.lane);
    const [a, b] = [{}, {}];
    q.push({ lane: a, id: 'a1' }, true);
    q.push({ lane: b, id: 'b1' }, true);
    expect([q.shift()!.id, q.shift()!.id]).toEqual(['a1', 'b1']);
  });
});

describe('UtilizationWindow', () => {
  it('is busy thread time over threads × elapsed, per window', () => {
    const w = new UtilizationWindow(2);
    w.sample(0);
    const a = { started: 0 };
    const b = { started: 50 };
    w.start(a);
    w.start(b);
    w.finish(a, 100); // 100 ms busy
    expect(w.sample(100)).toBeCloseTo((100 + 50) / 200);
    expect(w.sample(200)).toBeCloseTo(100 / 200); // b ran all of this window
    w.finish(b, 200);
    expect(w.sample(300)).toBe(0);
  });
});
