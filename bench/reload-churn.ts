/**
 * Connections lost during rolling reloads: skein's SIGHUP reload against the
 * usual bare node:cluster recipe (fork, wait for 'listening', old.disconnect()).
 *
 * Each round starts one server with 2 workers, runs LOOPS client loops that open a
 * connection, send one line, read the reply and close (never retrying), and sends
 * SIGHUP every HUP_MS for ROUND_MS. A connection that errors, closes before its
 * reply, or gets no reply within 5 s is lost. Rounds alternate skein / baseline.
 *
 *   node --import tsx bench/reload-churn.ts [rounds=3]
 *   HUP_MS=0 node --import tsx bench/reload-churn.ts   (control: no reloads)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(process.argv[2] ?? 3);
const ROUND_MS = 6000;
/** SIGHUP period; HUP_MS=0 sends none (a control run: connection rate without reloads). */
const HUP_MS = Number(process.env.HUP_MS ?? 500);
const LOOPS = 4;

interface Target {
  name: 'skein' | 'cluster';
  args: string[];
}

const TARGETS: Target[] = [
  { name: 'skein', args: [`${ROOT}dist/cli.js`, 'serve', `${ROOT}bench/reload-echo.mjs`, '--port', '0', '--workers', '2', '--metrics-port', '0'] },
  { name: 'cluster', args: [`${ROOT}bench/baselines/cluster-reload.mjs`] },
];

interface RoundResult {
  target: string;
  /** Full rolling reloads completed (a SIGHUP during a reload: skein runs one more after it, the baseline ignores it). */
  reloads: number;
  answered: number;
  lost: number;
  lostPer10k: number;
  loadGenCpu: number; // fraction of one core used by this process
  reasons: Record<string, number>;
}

async function startTarget(target: Target): Promise<{ child: ChildProcess; port: number; reloads: () => number }> {
  const child = spawn(process.execPath, target.args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SKEIN_LOG_LEVEL: 'info' } });
  let text = '';
  let reloads = 0;
  let tail = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (tail + chunk.toString()).split('\n');
    tail = lines.pop() ?? '';
    reloads += lines.filter((l) => l.includes('reload complete')).length;
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (text.length > 100_000) return; // the port is in the first lines; the rest is reload logs
      text += chunk.toString();
      const match = /"port":(\d+)/.exec(text);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', () => reject(new Error(`${target.name} exited before listening:\n${text}`)));
  });
  return { child, port, reloads: () => reloads };
}

function oneRequest(port: number, id: string, reasons: Record<string, number>): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answered = false;
    let failed: string | undefined;
    socket.setTimeout(5000, () => {
      failed ??= 'no reply within 5 s';
      socket.destroy();
    });
    socket.on('connect', () => socket.write(`${id}\n`));
    socket.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes(`echo ${id}\n`)) {
        answered = true;
        socket.end();
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => (failed ??= error.code ?? error.message));
    socket.on('close', () => {
      if (!answered) {
        const reason = failed ?? 'closed before the reply';
        reasons[reason] = (reasons[reason] ?? 0) + 1;
      }
      resolve(answered);
    });
  });
}

async function round(target: Target): Promise<RoundResult> {
  const { child, port, reloads } = await startTarget(target);
  const reasons: Record<string, number> = {};
  let answered = 0;
  let lost = 0;
  let stop = false;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const loops = Array.from({ length: LOOPS }, async (_, k) => {
    for (let n = 0; !stop; n++) {
      if (await oneRequest(port, `${k}-${n}`, reasons)) answered++;
      else lost++;
    }
  });
  const hups = HUP_MS > 0 ? setInterval(() => child.kill('SIGHUP'), HUP_MS) : undefined;
  await new Promise((r) => setTimeout(r, ROUND_MS));
  clearInterval(hups);
  // Let the last reload finish before stopping the clients.
  await new Promise((r) => setTimeout(r, 1500));
  stop = true;
  await Promise.all(loops);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await once(child, 'exit');
  clearTimeout(timer);
  const total = answered + lost;
  return {
    target: target.name,
    reloads: reloads(),
    answered,
    lost,
    lostPer10k: total ? (lost / total) * 10_000 : 0,
    loadGenCpu: (cpu.user + cpu.system) / 1000 / wallMs,
    reasons,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const results: RoundResult[] = [];
for (let r = 0; r < ROUNDS; r++) {
  for (const target of TARGETS) {
    const result = await round(target);
    results.push(result);
    console.log(
      `round ${r + 1} ${target.name.padEnd(7)} reloads ${String(result.reloads).padStart(3)}  answered ${String(result.answered).padStart(6)}  lost ${String(result.lost).padStart(4)}  ` +
        `(${result.lostPer10k.toFixed(1)} per 10k)  load-gen CPU ${(result.loadGenCpu * 100).toFixed(0)}%  ${JSON.stringify(result.reasons)}`,
    );
  }
}
const summary = Object.fromEntries(
  TARGETS.map((t) => {
    const mine = results.filter((r) => r.target === t.name);
    return [
      t.name,
      {
        medianReloads: median(mine.map((r) => r.reloads)),
        medianAnswered: median(mine.map((r) => r.answered)),
        medianLost: median(mine.map((r) => r.lost)),
        medianLostPer10k: median(mine.map((r) => r.lostPer10k)),
        totalLost: mine.reduce((n, r) => n + r.lost, 0),
        medianLoadGenCpu: median(mine.map((r) => r.loadGenCpu)),
      },
    ];
  }),
);
console.log(JSON.stringify(summary, null, 2));
const file = `${ROOT}bench/results/reload-churn-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
mkdirSync(`${ROOT}bench/results`, { recursive: true });
writeFileSync(
  file,
  JSON.stringify({ bench: 'reload-churn', node: process.version, cores: availableParallelism(), rounds: ROUNDS, roundMs: ROUND_MS, hupMs: HUP_MS, loops: LOOPS, summary, results }, null, 2),
);
console.log(`wrote ${file}`);
