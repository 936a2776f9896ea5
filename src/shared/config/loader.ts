/**
 * Module loading, in one place: whether skein runs from its TypeScript
 * sources or from the build, the extension its own modules have, and how a
 * user's module (a protocol or processors module, `.js` or `.ts`) is imported
 * in a process and in a pool thread.
 *
 * `.ts` modules run without a build step through tsx. A process gets tsx's
 * loader with `--import` ({@link execArgvFor}: the primary passes it to
 * workers through cluster's `execArgv`). On Node 20 a worker thread sees no
 * module hooks, neither its process's nor ones in the thread's own
 * `execArgv`, but tsx's `tsImport` works inside a thread (it registers a hook
 * scoped to one import graph): threads load `.ts` through it
 * ({@link importModule} with `'thread'`), and when skein itself runs from
 * source the pool starts each thread on a small native bootstrap that loads
 * the host the same way (worker/pool/processor-host-from-source.mjs).
 */
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** True when skein runs from its TypeScript sources (tests, tsx); false from the built `dist`. */
export const fromSource: boolean = import.meta.url.endsWith('.ts');

/** `stem` resolved against `base` with the extension skein's own modules have (`.ts` from source, `.js` built). */
export function ownModule(stem: string, base: string | URL): URL {
  return new URL(`${stem}${fromSource ? '.ts' : '.js'}`, base);
}

/** The URL of a user's module given as a file URL, an absolute path, or a path relative to `cwd`. */
export function moduleUrl(spec: string, cwd: string = process.cwd()): URL {
  if (spec.startsWith('file:')) return new URL(spec);
  return pathToFileURL(isAbsolute(spec) ? spec : resolve(cwd, spec));
}

/** True for a TypeScript module path or URL. */
export function isTypeScript(path: string): boolean {
  return /\.(ts|mts|cts)$/.test(path);
}

/** The `execArgv` for processes that load `modules`: with tsx's loader when one is TypeScript (or skein runs from source). */
export function execArgvFor(modules: readonly string[]): string[] {
  return fromSource || modules.some(isTypeScript) ? tsxExecArgv() : [...process.execArgv];
}

/** This process's `execArgv` with tsx's loader (`--import <tsx>`) added, unless it is there already. */
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

/** The process's `execArgv` without tsx's `--import` (useless in threads, and slow to start). */
export function threadExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--import' && argv[i + 1]?.includes('tsx')) i++;
    else if (!(arg.startsWith('--import=') && arg.includes('tsx'))) out.push(arg);
  }
  return out;
}

/**
 * Imports a module by URL. In a process (`'process'`) a plain import, which
 * handles `.ts` once tsx's loader is in `execArgv` (and falls back to tsx's
 * scoped `tsImport` when it is not); in a pool thread (`'thread'`) `.ts` goes
 * through `tsImport` directly.
 */
export async function importModule(href: string, where: 'process' | 'thread' = 'process'): Promise<Record<string, unknown>> {
  const typescript = isTypeScript(new URL(href).pathname);
  if (where === 'thread' && typescript) return importScoped(href);
  try {
    return (await import(href)) as Record<string, unknown>;
  } catch (error) {
    if (typescript && (error as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION') return importScoped(href);
    throw error;
  }
}

async function importScoped(href: string): Promise<Record<string, unknown>> {
  const { tsImport } = await import('tsx/esm/api');
  return (await tsImport(href, import.meta.url)) as Record<string, unknown>;
}
