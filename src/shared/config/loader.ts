import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/**
 * `--import <tsx loader>`: lets worker processes and pool threads load `.ts`
 * protocol and processor modules without a build step. On Node 20 a
 * `register()` call inside a process does not reach its worker threads, so the
 * flag is passed explicitly to each (cluster `execArgv`, piscina `execArgv`).
 */
export function tsxExecArgv(): string[] {
  const already = process.execArgv.some((arg, i, all) => arg.includes('tsx') && (arg.startsWith('--import') || all[i - 1] === '--import'));
  if (already) return [...process.execArgv];
  return [...process.execArgv, '--import', tsxLoaderUrl()];
}

/** The file URL of tsx's ESM loader, resolved from skein's own dependencies. */
export function tsxLoaderUrl(): string {
  const require = createRequire(import.meta.url);
  return pathToFileURL(require.resolve('tsx')).href;
}
