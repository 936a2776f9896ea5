import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { importModule, moduleUrl, ownModule } from '../shared/config/loader.js';
import { ModuleLoadError } from '../shared/protocol/errors.js';
import { Factory, isFactory } from '../shared/protocol/factory.js';
import { isProtocolClass } from '../shared/protocol/protocol.js';

const BUILTIN_NAME = /^[a-z][a-z0-9-]*$/;

/** Factories already handed to a service in this process, with their fields as exported. */
const claimed = new WeakMap<Factory, Record<string, unknown>>();

/** The module URL of a built-in protocol, or undefined if `name` is not one. */
export function builtinProtocolUrl(name: string): URL | undefined {
  if (!BUILTIN_NAME.test(name)) return undefined;
  const url = ownModule(`../protocols/${name}`, import.meta.url);
  return existsSync(fileURLToPath(url)) ? url : undefined;
}

/** The module URL for a protocol spec: a built-in name or a path (relative to `cwd`). */
export function protocolModuleUrl(spec: string, cwd = process.cwd()): URL {
  const builtin = builtinProtocolUrl(spec);
  if (builtin) return builtin;
  const url = moduleUrl(spec, cwd);
  if (!spec.startsWith('file:') && !existsSync(url)) {
    const hint = BUILTIN_NAME.test(spec) ? 'is not a built-in protocol (processed, lines, …) nor a file' : 'does not exist';
    throw new ModuleLoadError(`protocol '${spec}' ${hint}`);
  }
  return url;
}

/**
 * Imports a protocol module and returns its factory. The default export may be
 * a Factory (recognised by shape, so another copy of skein works too) or a
 * Protocol class, which is wrapped with `Factory.forProtocol`.
 * @throws ModuleLoadError naming the module and what is wrong with it.
 */
export async function loadFactory(spec: string, service: string, options: Readonly<Record<string, unknown>>): Promise<Factory> {
  const url = protocolModuleUrl(spec);
  let module: Record<string, unknown>;
  try {
    module = await importModule(url.href);
  } catch (error) {
    throw new ModuleLoadError(`cannot load protocol module '${spec}': ${(error as Error).message}`, { cause: error });
  }
  const exported = module.default;
  let factory: Factory;
  if (isFactory(exported)) factory = exported;
  else if (isProtocolClass(exported)) {
    // A protocol class may name the factory it is served with (a WebSocketProtocol: a WebSocket endpoint).
    const build = (exported as { buildFactory?: () => unknown }).buildFactory;
    const own = typeof build === 'function' ? build.call(exported) : undefined;
    factory = isFactory(own) ? own : Factory.forProtocol(exported);
  }
  else {
    throw new ModuleLoadError(
      `protocol module '${spec}' must default-export a Factory or a Protocol class (got ${exported === undefined ? 'no default export' : typeof exported})`,
    );
  }
  // Two services may serve the same module with different options: after the first, each gets
  // its own shallow copy of the exported factory as exported (same class and fields), so options
  // and labels don't collide.
  const pristine = claimed.get(factory);
  if (pristine) factory = Object.assign(Object.create(Object.getPrototypeOf(factory) as object) as Factory, pristine);
  else claimed.set(factory, { ...factory });
  factory.options = { ...factory.options, ...options };
  factory.protocolName = service;
  return factory;
}
