import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientKey, pickClientHash, pickLeastConnections } from '../../src/master/balance.js';

const slots = (n: number, open: (i: number) => number = () => 0) => Array.from({ length: n }, (_, slot) => ({ slot, open: open(slot) }));

describe('least-connections', () => {
  it('picks the fewest open, lowest slot on ties', () => {
    expect(pickLeastConnections(slots(3, (i) => [5, 2, 2][i]!))?.slot).toBe(1);
    expect(pickLeastConnections([])).toBeUndefined();
  });
});

describe('client-hash', () => {
  it('is stable for an address', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 1, max: 16 }), (ip, n) => {
        expect(pickClientHash(ip, slots(n))?.slot).toBe(pickClientHash(ip, slots(n))?.slot);
      }),
    );
  });

  it('when a slot goes away, only its addresses move', () => {
    fc.assert(
      fc.property(fc.array(fc.ipV4(), { minLength: 1, maxLength: 200 }), fc.integer({ min: 2, max: 8 }), fc.nat(), (ips, n, k) => {
        const all = slots(n);
        const gone = k % n;
        const rest = all.filter((s) => s.slot !== gone);
        for (const ip of ips) {
          const before = pickClientHash(ip, all)!.slot;
          const after = pickClientHash(ip, rest)!.slot;
          if (before !== gone) expect(after).toBe(before);
        }
      }),
    );
  });

  it('spreads addresses roughly evenly', () => {
    const counts = new Map<number, number>();
    for (let i = 0; i < 4000; i++) {
      const slot = pickClientHash(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, slots(4))!.slot;
      counts.set(slot, (counts.get(slot) ?? 0) + 1);
    }
    for (const n of counts.values()) expect(n).toBeGreaterThan(700);
  });

  it('folds IPv4-mapped addresses', () => {
    expect(clientKey('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(clientKey('::1')).toBe('::1');
  });
});
