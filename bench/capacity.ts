/**
 * Connection capacity: how many concurrent idle connections one worker holds
 * and what each costs in RSS. Opens `target` connections to one `processed`
 * worker in steps (each gets its welcome line, so the worker has run
 * `connectionMade` for it), samples the worker's VmRSS after each step, checks
 * that every connection is still open after a pause, then closes them all.
 * The same for the node:net baseline, for comparison.
 *
 * Both ends need file descriptors: the target must stay below `ulimit -n`.
 */
import { ClientFactory } from '../src/client/client-factory.js';
import { connectTCP } from '../src/client/connector.js';
import { Protocol } from '../src/shared/protocol/protocol.js';
import { rssBytes, startBaseline, startSkein, type BenchServer } from './lib/proc.js';
import { MiB, linearFit, round } from './lib/stats.js';

export interface CapacityResult {
  readonly server: string;
  readonly target: number;
  /** Connections still open after the pause at the target. */
  readonly held: number;
  readonly rssBeforeMiB: number;
  readonly rssAtTargetMiB: number;
  readonly growthMiB: number;
  /** Slope of RSS over the steps, KiB per connection. */
  readonly perConnectionKiB: number;
  readonly rssAfterCloseMiB: number;
  readonly steps: ReadonlyArray<{ readonly connections: number; readonly rssMiB: number }>;
}

class Idle extends Protocol {
  greeted = false;
  override dataReceived(data: Buffer): void {
    if (data.includes(0x0a)) this.greeted = true;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

async function measure(server: BenchServer, target: number, step: number, log: (line: string) => void): Promise<CapacityResult> {
  const pid = server.workerPids[0]!;
  const factory = ClientFactory.forProtocol(Idle);
  const open: Idle[] = [];
  await sleep(1000);
  const before = rssBytes(pid);
  const steps: Array<{ connections: number; rssMiB: number }> = [{ connections: 0, rssMiB: round(before / MiB) }];
  try {
    while (open.length < target) {
      const goal = Math.min(target, open.length + step);
      while (open.length < goal) {
        // Batches well under the accept backlog (511), so no SYN is dropped and retried.
        const n = Math.min(250, goal - open.length);
        open.push(...(await Promise.all(Array.from({ length: n }, () => connectTCP('127.0.0.1', server.port, factory, { timeout: 30 })))));
      }
      await until(() => open.every((p) => p.greeted), 30_000);
      await sleep(500);
      steps.push({ connections: open.length, rssMiB: round(rssBytes(pid) / MiB) });
      log(`  ${server.name}: ${open.length} idle connections, worker RSS ${steps.at(-1)!.rssMiB} MiB`);
    }
    await sleep(2000);
    const held = open.filter((p) => p.connected && p.greeted).length;
    const atTarget = rssBytes(pid);
    for (const p of open) p.transport.loseConnection();
    await until(() => open.every((p) => !p.connected), 30_000);
    await sleep(1000);
    const fit = linearFit(
      steps.map((s) => s.connections),
      steps.map((s) => s.rssMiB),
    );
    return {
      server: server.name,
      target,
      held,
      rssBeforeMiB: round(before / MiB),
      rssAtTargetMiB: round(atTarget / MiB),
      growthMiB: round((atTarget - before) / MiB),
      perConnectionKiB: round(fit.slope * 1024, 2),
      rssAfterCloseMiB: round(rssBytes(pid) / MiB),
      steps,
    };
  } finally {
    for (const p of open) if (p.connected) p.transport.abortConnection();
  }
}

/** Measures skein (one `processed` worker) and the single-process node:net baseline. */
export async function runCapacity(target: number, log: (line: string) => void): Promise<{ skein: CapacityResult; baseline: CapacityResult }> {
  const step = Math.max(1, Math.ceil(target / 5));
  const skeinServer = await startSkein('processed', 1);
  let skein: CapacityResult;
  try {
    skein = await measure(skeinServer, target, step, log);
  } finally {
    await skeinServer.stop();
  }
  const baselineServer = await startBaseline('processed', 0);
  try {
    return { skein, baseline: await measure(baselineServer, target, step, log) };
  } finally {
    await baselineServer.stop();
  }
}
