/**
 * How the primary chooses a worker for a new connection when it accepts
 * connections itself (every policy but `round-robin`, which is node:cluster's own).
 */


/** A worker that can take connections, as the primary sees it. */
export interface Candidate {
  /** Slot index (stable across replacements). */
  readonly slot: number;
  /** Open connections the primary handed it and has not heard closed. */
  readonly open: number;
}

/** The candidate with the fewest open connections; ties go to the lowest slot. */
export function pickLeastConnections<C extends Candidate>(candidates: readonly C[]): C | undefined {
  let best: C | undefined;
  for (const c of candidates) if (best === undefined || c.open < best.open) best = c;
  return best;
}

/**
 * Rendezvous (highest-random-weight) hashing of a client address over the
 * candidates' slots: the same address reaches the same slot while it lives,
 * and when a slot goes away only the addresses it held move, each to one
 * other slot (its next-highest weight).
 */
export function pickClientHash<C extends Candidate>(address: string, candidates: readonly C[]): C | undefined {
  let best: C | undefined;
  let bestWeight = -1;
  for (const c of candidates) {
    const weight = fnv1a(`${address}#${c.slot}`);
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && c.slot < best.slot)) {
      best = c;
      bestWeight = weight;
    }
  }
  return best;
}

/** 32-bit FNV-1a, then a final avalanche (murmur3's fmix32) so nearby inputs spread. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The client address used for hashing and per-IP limits: IPv4-mapped IPv6 is folded to IPv4. */
export function clientKey(address: string | undefined): string {
  if (!address) return '';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}
