import { startSkein, startBaseline, runLoadProcess, cpuSeconds } from './lib/proc.js';
const [c, p, w, rounds = 3, secs = 2] = process.argv.slice(2).map(Number);
const s = await startSkein('processed', w!);
const b = await startBaseline('processed', w === 1 ? 0 : w!);
try {
  for (let r = 0; r < rounds; r++) for (const srv of r % 2 ? [b, s] : [s, b]) {
    const before = srv.allPids.reduce((a, pid) => a + cpuSeconds(pid), 0);
    const res = await runLoadProcess(['--port', String(srv.port), '--preset', 'processed', '-c', String(c), '-p', String(p), '-d', String(secs), '--threads', String(Math.min(c!, 2))]);
    const cpu = srv.allPids.reduce((a, pid) => a + cpuSeconds(pid), 0) - before;
    console.log(srv.name.padEnd(28), String(Math.round(res.throughput)).padStart(7), 'p50', res.latencyMs.p50, 'p99', res.latencyMs.p99, 'gen', res.cpu.percent, 'srv µs/req', (cpu * 1e6 / res.requests).toFixed(1), 'srv cpu%', (cpu / res.durationSeconds * 100).toFixed(0));
  }
} finally { await s.stop(); await b.stop(); }
