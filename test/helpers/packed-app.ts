/**
 * skein as a user gets it: `npm pack` once per test run, installed once into a
 * temporary app (`"type": "module"`, a strict tsconfig with `declaration` and
 * `noImplicitOverride`) next to TypeScript, vitest and @types/node. Tests put
 * their files in folders of that app, so `import … from 'skein'` resolves to the
 * installed tarball, never to this repository.
 *
 * `npm test` builds first, so the pack skips the `prepack` build (`--ignore-scripts`):
 * rebuilding dist/ here would pull it from under the tests running beside this one.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { ROOT } from './server.js';

export interface PackedApp {
  /** The folder holding the tarball and the app. */
  readonly root: string;
  /** Absolute path of `skein-<version>.tgz`. */
  readonly tarball: string;
  /** The app folder: package.json, tsconfig.json, node_modules with skein installed from the tarball. */
  readonly app: string;
  /** `node_modules/.bin/skein` of the app (what `npx skein` runs). */
  readonly bin: string;
}

/** The strict tsconfig a new user would have (`tsc --init` defaults plus strictness). */
export const APP_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    types: ['node'],
    strict: true,
    noImplicitOverride: true,
    declaration: true,
    skipLibCheck: false,
    noEmit: true,
  },
};

/** Exact versions of the dev tools in this repository, so the install is served from npm's cache. */
export function devToolSpecs(): string[] {
  return ['typescript', 'vitest', '@types/node'].map((name) => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    return `${name}@${version}`;
  });
}

/** `npm install` bounded and quiet: the registry is reachable, but the cache answers first. */
export async function npm(args: string[], cwd: string, timeout = 240_000): Promise<string> {
  const { stdout } = await run('npm', [...args, ...(args[0] === 'install' || args[0] === 'ci' ? ['--prefer-offline', '--no-audit', '--no-fund'] : [])], {
    cwd,
    timeout,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  return stdout;
}

const run = promisify(execFile);

/**
 * Runs a command without blocking the test worker (a long synchronous child would starve
 * vitest's own messages); rejects with its output when it fails.
 */
export async function exec(file: string, args: string[], cwd: string, timeout = 120_000): Promise<string> {
  try {
    const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
    const { stdout } = await run(file, args, { cwd, timeout, env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** Packs and installs once per test run (the first caller pays, about 20-60 s here), then returns the same app. */
export async function packedApp(): Promise<PackedApp> {
  const root = inject('packDir');
  const app = join(root, 'app');
  const ready = join(root, 'ready.json');
  if (existsSync(ready)) return JSON.parse(readFileSync(ready, 'utf8')) as PackedApp;
  const [packed] = JSON.parse(await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', root], ROOT)) as Array<{ filename: string }>;
  const tarball = join(root, packed!.filename);
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'skein-app', version: '1.0.0', private: true, type: 'module' }, null, 2));
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ ...APP_TSCONFIG, include: ['**/*.ts', '**/*.cts'], exclude: ['node_modules'] }, null, 2));
  await npm(['install', tarball, ...devToolSpecs()], app);
  const result: PackedApp = { root, tarball, app, bin: join(app, 'node_modules', '.bin', 'skein') };
  writeFileSync(ready, JSON.stringify(result));
  return result;
}
