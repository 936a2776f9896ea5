import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InvalidOptionError } from '../protocol/errors.js';

/**
 * Reads a JSON config file. Module paths of services are taken relative to the
 * file's folder, so a config can travel with its protocols.
 * @throws InvalidOptionError naming the file and what is wrong.
 */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidOptionError(`--config ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new InvalidOptionError(`--config ${path}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new InvalidOptionError(`--config ${path}: must hold a JSON object`);
  }
  const out = { ...(config as Record<string, unknown>) };
  if (Array.isArray(out.services)) {
    const base = dirname(resolve(path));
    out.services = out.services.map((s: unknown) => {
      if (typeof s !== 'object' || s === null) return s;
      const entry = s as Record<string, unknown>;
      const protocol = entry.protocol;
      if (typeof protocol === 'string' && looksLikePath(protocol) && !isAbsolute(protocol)) {
        return { ...entry, protocol: resolve(base, protocol) };
      }
      return entry;
    });
  }
  return out;
}

/** A protocol spec is a path (not a built-in name) when it has a slash or a module extension. */
export function looksLikePath(spec: string): boolean {
  return spec.includes('/') || spec.includes('\\') || /\.(m?js|cjs|ts|mts|cts)$/.test(spec);
}
