/**
 * `skein init DIR`: writes a new app that depends on skein: an ESM package with a
 * strict tsconfig, a protocol, its vitest test using `skein/testing`, `npm start`
 * serving it on every core, a Dockerfile and Kubernetes manifests. The files come
 * from the package's `templates/app/`.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidOptionError } from '../shared/protocol/errors.js';

/** Options of {@link initApp}. */
export interface InitOptions {
  /** The folder to write (created when missing). */
  dir: string;
  /** Write into a folder that is not empty (template files are overwritten; others are kept). */
  force?: boolean;
  /** What the app's package.json depends on for skein (default `^<this version>`; e.g. `file:../skein-0.1.0.tgz`). */
  skeinSpec?: string;
  /** The package name (default: the folder's name, made a valid npm name). */
  name?: string;
}

const TEMPLATE = fileURLToPath(new URL('../../templates/app/', import.meta.url));
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);
/** Template files stored under another name: npm drops `.gitignore` from packages. */
const RENAMED: Record<string, string> = { gitignore: '.gitignore', dockerignore: '.dockerignore' };
/** Files where APP_NAME is replaced by the package name. */
const NAMED = ['README.md', 'Dockerfile', 'k8s/deployment.yaml', 'k8s/service.yaml'];

/** `dir`'s base name as a valid npm package name. */
export function packageName(dir: string): string {
  const name = basename(resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, '-')
    .replace(/^[._-]+|-+$/g, '');
  return name || 'skein-app';
}

/**
 * Writes the app. Returns the files written, relative to `dir`.
 * @throws InvalidOptionError when `dir` is a file, or a folder that is not empty and `force` is not set.
 */
export function initApp(options: InitOptions): string[] {
  const dir = resolve(options.dir);
  if (existsSync(dir)) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      throw new InvalidOptionError(`${options.dir} exists and is not a folder`);
    }
    if (entries.length > 0 && !options.force) {
      throw new InvalidOptionError(`${options.dir} is not empty (pass --force to write the app into it anyway)`);
    }
  }
  mkdirSync(dir, { recursive: true });
  const skein = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string; devDependencies: Record<string, string> };
  const name = options.name ?? packageName(dir);
  cpSync(TEMPLATE, dir, { recursive: true, force: true });
  for (const [from, to] of Object.entries(RENAMED)) renameSync(join(dir, from), join(dir, to));
  for (const file of NAMED) {
    const path = join(dir, file);
    writeFileSync(path, readFileSync(path, 'utf8').replaceAll('APP_NAME', name));
  }
  const pkg = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: '>=20.19' },
    scripts: {
      start: 'skein serve src/protocol.ts',
      test: 'tsc -p . && vitest run',
    },
    dependencies: { skein: options.skeinSpec ?? `^${skein.version}` },
    // The versions skein itself is developed with.
    devDependencies: Object.fromEntries(['@types/node', 'typescript', 'vitest'].map((d) => [d, skein.devDependencies[d]!])),
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  return ['package.json', ...listFiles(dir, TEMPLATE)];
}

function listFiles(dir: string, template: string, prefix = ''): string[] {
  return readdirSync(join(template, prefix), { withFileTypes: true }).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) return listFiles(dir, template, rel);
    return [RENAMED[rel] ?? rel];
  });
}
