import { InvalidOptionError } from '../protocol/errors.js';
import { parseEndpoint } from '../net/endpoint.js';
import { DEFAULTS, type BalancePolicy } from './defaults.js';
import { primaryAccepts } from './option-table.js';

/** One service: a protocol served on one or more endpoints. */
export interface ServiceConfig {
  /** Name used in logs and the `protocol` metric label (defaults to the protocol's name). */
  readonly name: string;
  /** Built-in protocol name (`processed`, `lines`, …) or a module path (.js, .mjs, .ts). */
  readonly protocol: string;
  /** Endpoint strings (`tcp:9000`, `unix:/path`, …). */
  readonly listen: readonly string[];
  /** Protocol-specific options, handed to the factory as `factory.options`. */
  readonly options: Readonly<Record<string, unknown>>;
}

/** Validates a service entry (from a config file or `serve()`), filling in its name. */
export function normalizeService(raw: unknown, where: string): ServiceConfig {
  if (typeof raw !== 'object' || raw === null) throw new InvalidOptionError(`${where} must be an object`);
  const entry = raw as Record<string, unknown>;
  const protocol = entry.protocol ?? DEFAULTS.protocol;
  if (typeof protocol !== 'string' || protocol.length === 0) {
    throw new InvalidOptionError(`${where}.protocol must be a protocol name or module path`);
  }
  const listenRaw = entry.listen ?? [DEFAULTS.listen];
  const listen = typeof listenRaw === 'string' ? [listenRaw] : listenRaw;
  if (!Array.isArray(listen) || listen.length === 0 || !listen.every((e) => typeof e === 'string')) {
    throw new InvalidOptionError(`${where}.listen must be an endpoint string or a non-empty array of them`);
  }
  for (const e of listen as string[]) {
    try {
      parseEndpoint(e);
    } catch (error) {
      throw new InvalidOptionError(`${where}.listen: ${(error as Error).message}`);
    }
  }
  const options = entry.options ?? {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError(`${where}.options must be an object`);
  }
  const name = entry.name ?? defaultServiceName(protocol);
  if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) {
    throw new InvalidOptionError(`${where}.name must be a simple name (letters, digits, _ . -)`);
  }
  return Object.freeze({ name, protocol, listen: Object.freeze([...(listen as string[])]), options: Object.freeze({ ...options }) });
}

/** `processed` for a built-in, `echo` for `./protocols/echo.ts`. */
export function defaultServiceName(protocol: string): string {
  const base = protocol.split(/[\\/]/).pop() ?? protocol;
  return base.replace(/\.(m?js|ts|mts|cjs)$/, '').replace(/[^A-Za-z0-9_.-]/g, '_') || 'service';
}

/** Checks a service list: distinct names, and endpoints that suit the balance policy. */
export function checkServices(services: readonly ServiceConfig[], balance: BalancePolicy, perIpLimit: boolean): void {
  if (primaryAccepts(balance)) checkBalanceCombinations(balance, services, perIpLimit);
  const names = new Set<string>();
  for (const s of services) {
    if (names.has(s.name)) throw new InvalidOptionError(`two services are named '${s.name}': give one a distinct name`);
    names.add(s.name);
  }
}

/**
 * The primary accepts for `least-connections` and `client-hash` and sees only the
 * socket's address. Behind a PROXY endpoint that is the proxy's, so hashing or
 * limiting by client address there would be wrong: refuse those combinations.
 */
function checkBalanceCombinations(balance: BalancePolicy, services: readonly ServiceConfig[], perIp: boolean): void {
  for (const service of services) {
    for (const text of service.listen) {
      if (!parseEndpoint(text).proxy) continue;
      if (balance === 'client-hash') {
        throw new InvalidOptionError(
          `--balance client-hash cannot be combined with the PROXY endpoint '${text}': the primary sees the proxy's address, not the client's (use least-connections or round-robin)`,
        );
      }
      if (perIp) {
        throw new InvalidOptionError(
          `--max-connections-per-ip with --balance ${balance} cannot be combined with the PROXY endpoint '${text}': the primary sees the proxy's address (use --balance round-robin, where workers limit by the real client address)`,
        );
      }
    }
  }
}
