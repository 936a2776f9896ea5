/**
 * Preloaded into the servers `bench/abuse.ts` starts (NODE_OPTIONS=--import):
 * on SIGUSR2 the process runs two full garbage collections and writes what its
 * main thread still holds (V8 heap used, external memory, array buffers, RSS)
 * to `$SKEIN_BENCH_SETTLE_DIR/<pid>.json`. The difference of two such readings
 * is memory held, not garbage not yet collected.
 */
import { writeFileSync } from 'node:fs';
import process from 'node:process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread } from 'node:worker_threads';

const dir = process.env.SKEIN_BENCH_SETTLE_DIR;
if (isMainThread && dir) {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  process.on('SIGUSR2', () => {
    gc();
    gc();
    const m = process.memoryUsage();
    writeFileSync(`${dir}/${process.pid}.json`, JSON.stringify({ heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss }));
  });
}
