import type { Address } from '../shared/protocol/address.js';
import type { ConnectionLimit } from '../shared/config/option-table.js';

/** Why a connection was refused at admission (a `skein_connections_rejected_total` reason). */
export type AdmissionRefusal = ConnectionLimit['reason'] | 'max_connections_per_ip';

/**
 * The reactor's admission limits: connections open at once, and per client
 * address (the real one, after a PROXY header). A connection is checked
 * before its protocol is built, and counted against its address once built.
 */
export class Admission {
  private readonly perIp = new Map<string, number>();

  constructor(
    private readonly maxConnections: ConnectionLimit | undefined,
    private readonly maxConnectionsPerIp: number | undefined,
  ) {}

  /** The reason to refuse a connection from `peer` while `open` are open, or undefined to admit it. */
  refusal(peer: Address, open: number): AdmissionRefusal | undefined {
    if (this.maxConnections && open >= this.maxConnections.limit) return this.maxConnections.reason;
    if (this.maxConnectionsPerIp !== undefined && (this.perIp.get(ipOf(peer)) ?? 0) >= this.maxConnectionsPerIp) {
      return 'max_connections_per_ip';
    }
    return undefined;
  }

  /** Counts an admitted connection from `peer`; call {@link Admission.leave} with the same peer when it closes. */
  enter(peer: Address): void {
    if (this.maxConnectionsPerIp === undefined) return;
    const ip = ipOf(peer);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
  }

  /** Uncounts a connection {@link Admission.enter} counted, once it closed. */
  leave(peer: Address): void {
    if (this.maxConnectionsPerIp === undefined) return;
    const ip = ipOf(peer);
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n === 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
  }
}

/** Unix-socket peers share one key. */
function ipOf(peer: Address): string {
  return peer.type === 'UNIX' ? '' : peer.host;
}
