/**
 * How pool threads load TypeScript. On Node 20 a worker thread does not see
 * module hooks, neither its process's nor ones passed in the thread's own
 * `execArgv` (`--import tsx` there loads tsx but `.ts` imports still fail with
 * ERR_UNKNOWN_FILE_EXTENSION). tsx's `tsImport` does work inside a thread: it
 * registers a hook scoped to one import graph. So the processor host loads
 * `.ts` processors modules through it, and when skein itself runs from source
 * the pool starts each thread on a tiny native bootstrap that loads the host
 * the same way (processor-host-from-source.mjs).
 */

/** The `filename` piscina's threads start from: the host module, or from source a native bootstrap that loads the `.ts` host. */
export function hostFilename(host: URL): string {
  return host.pathname.endsWith('.ts') ? new URL('./processor-host-from-source.mjs', host).href : host.href;
}

/** The worker process's `execArgv` without tsx's `--import` (useless in threads, and slow to start). */
export function threadExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--import' && argv[i + 1]?.includes('tsx')) i++;
    else if (!(arg.startsWith('--import=') && arg.includes('tsx'))) out.push(arg);
  }
  return out;
}
