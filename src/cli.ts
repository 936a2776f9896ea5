#!/usr/bin/env node
/**
 * The command line: `skein serve [PROTOCOL] [options]`, `skein init`, `skein load`. A bad option exits 2
 * with one line naming it; a server that cannot start exits 1 with the reason.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readConfigFile } from './shared/config/config-file.js';
import { InvalidOptionError } from './shared/protocol/errors.js';
import { normalizeService, OPTION_SPECS, resolveOptions, type ScalarOptionName, type ServerOptions } from './shared/config/options.js';
import { startServing } from './serve.js';
import { loadMain } from './client/load/cli.js';
import { initMain } from './init/main.js';

const USAGE = `usage: skein serve [PROTOCOL] [--listen ENDPOINT]... [--port N] [--workers N] [--pool-threads N]
                   [--metrics-port N] [--metrics-host H] [--config FILE] [--shutdown-timeout S] [--offload]
   or: skein init [DIR] [--force]                                  (a new app; skein init --help)
   or: skein load [--port N] [--connections N] [--pipeline N] ...   (TCP load generator; skein load --help)

PROTOCOL is a built-in protocol (processed, lines, http, hash) or a module path (.js, .mjs, .ts)
whose default export is a Factory or a Protocol class. Default: processed on tcp:9000.

Options (each also read from SKEIN_<NAME> and from the config file):
${Object.entries(OPTION_SPECS)
  .map(([, s]) => `  --${s.flag.padEnd(28)} ${s.doc}`)
  .join('\n')}
  --listen ENDPOINT              tcp:PORT[:interface=ADDR], tcp6:PORT, unix:PATH (repeatable)
  --port N                       short for --listen tcp:N
  --config FILE                  JSON config (options and services)
  --offload                      protocol option: run the processing step in the pool
  --option KEY=VALUE             protocol option (repeatable)
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`skein: ${message}\n`);
  process.exit(code);
}

/** Parses `skein serve …` arguments into server options. */
export function parseServeArgs(args: string[], env: NodeJS.ProcessEnv = process.env): ServerOptions {
  const flagOptions: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {
    listen: { type: 'string', multiple: true },
    port: { type: 'string' },
    config: { type: 'string' },
    offload: { type: 'boolean' },
    option: { type: 'string', multiple: true },
    help: { type: 'boolean' },
  };
  for (const spec of Object.values(OPTION_SPECS)) flagOptions[spec.flag] = { type: 'string' };
  let parsed;
  try {
    parsed = parseArgs({ args, options: flagOptions, allowPositionals: true, strict: true });
  } catch (error) {
    throw new InvalidOptionError((error as Error).message.split('\n')[0]!.replace(/^Unknown option/, 'unknown option'));
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (parsed.positionals.length > 1) {
    throw new InvalidOptionError(`expected at most one PROTOCOL, got: ${parsed.positionals.join(' ')}`);
  }
  const flags: Partial<Record<ScalarOptionName, string>> = {};
  for (const [name, spec] of Object.entries(OPTION_SPECS) as Array<[ScalarOptionName, { flag: string }]>) {
    const v = values[spec.flag];
    if (typeof v === 'string') flags[name] = v;
  }
  const listen = [...((values.listen as string[] | undefined) ?? [])];
  if (typeof values.port === 'string') {
    if (!/^\d+$/.test(values.port) || Number(values.port) > 65535) {
      throw new InvalidOptionError(`--port must be a port number 0-65535 (got '${values.port}')`);
    }
    listen.push(`tcp:${values.port}`);
  }
  const protocolOptions: Record<string, unknown> = {};
  if (values.offload) protocolOptions.offload = true;
  for (const kv of (values.option as string[] | undefined) ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new InvalidOptionError(`--option must be KEY=VALUE (got '${kv}')`);
    const raw = kv.slice(eq + 1);
    protocolOptions[kv.slice(0, eq)] = raw === 'true' ? true : raw === 'false' ? false : /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  }
  const config = typeof values.config === 'string' ? readConfigFile(values.config) : undefined;
  const protocol = parsed.positionals[0];
  const envPort = env.SKEIN_PORT;
  if (listen.length === 0 && envPort !== undefined && envPort !== '') listen.push(`tcp:${envPort}`);
  let services;
  if (protocol !== undefined || listen.length > 0 || Object.keys(protocolOptions).length > 0) {
    const fromConfig = Array.isArray(config?.services) && config.services.length === 1 ? (config.services[0] as Record<string, unknown>) : {};
    services = [
      normalizeService(
        {
          ...fromConfig,
          ...(protocol !== undefined ? { protocol, name: undefined } : {}),
          ...(listen.length > 0 ? { listen } : {}),
          options: { ...((fromConfig.options as object | undefined) ?? {}), ...protocolOptions },
        },
        'command line',
      ),
    ];
  }
  return resolveOptions({ flags, env, ...(config ? { config } : {}), ...(services ? { services } : {}) });
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v') {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return;
  }
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (command === 'load') {
    process.exitCode = await loadMain(rest);
    return;
  }
  if (command === 'init') {
    process.exitCode = initMain(rest);
    return;
  }
  if (command !== 'serve') fail(`unknown command '${command}' (try: skein serve --help)`);
  let options: ServerOptions;
  try {
    options = parseServeArgs(rest);
  } catch (error) {
    fail((error as Error).message);
  }
  try {
    await startServing(options, { handleSignals: true });
  } catch (error) {
    fail((error as Error).message, 1);
  }
}

void main(process.argv.slice(2));
