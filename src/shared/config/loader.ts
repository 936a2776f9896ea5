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

/**
 * Imports a module by absolute path or file URL; TypeScript (`.ts`, `.mts`, `.cts`) goes through
 * tsx's scoped `tsImport`, which works where no module hooks are registered: pool threads on
 * Node 20, and a test runner that loads skein from node_modules without transforming it.
 */
export async function importModule(specifier: string): Promise<Record<string, unknown>> {
  const url = specifier.startsWith('file:') ? specifier : pathToFileURL(specifier).href;
  if (!/\.(ts|mts|cts)$/.test(new URL(url).pathname)) return (await import(url)) as Record<string, unknown>;
  const { tsImport } = await import('tsx/esm/api');
  return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
}
