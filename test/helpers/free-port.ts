/**
 * Free TCP ports for a server that a test or benchmark starts later, by number
 * (the metrics endpoint treats port 0 as "off"; node:cluster baselines need one
 * port for every worker).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Ports this process's {@link freePort} has returned. */
const handedOut = new Set<number>();

/**
 * A free TCP port on 127.0.0.1, picked at random below the kernel's ephemeral
 * range: the caller's server binds it later, and in between a port from that
 * range could be taken by any client's connection or any port-0 listener of
 * whatever runs beside it.
 */
export async function freePort(): Promise<number> {
  const high = Math.min(ephemeralStart(), 32768);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (high - 10_000));
    // Two calls before either server binds would otherwise both find the same port free.
    if (handedOut.has(port)) continue;
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(true));
    });
    if (!bound) continue;
    await new Promise((resolve) => server.close(resolve));
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port below the ephemeral range after 50 tries');
}

/** The first port of the kernel's ephemeral range (Linux; 32768 elsewhere). */
function ephemeralStart(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}
