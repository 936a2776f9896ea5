import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplyQueue } from '../../src/shared/protocol/reply-queue.js';

describe('ReplyQueue', () => {
  it('writes replies in push order, whatever order they settle in', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ delay: fc.integer({ min: 0, max: 5 }), sync: fc.boolean(), fail: fc.boolean() }), { maxLength: 30 }),
        async (replies) => {
          const out: string[] = [];
          const q = new ReplyQueue(
            (v) => out.push(String(v)),
            (e) => out.push(`error:${(e as Error).message}`),
          );
          replies.forEach((r, i) => {
            if (r.sync && !r.fail) q.push(`r${i}`);
            else
              q.push(
                new Promise((resolve, reject) =>
                  setTimeout(() => (r.fail ? reject(new Error(`e${i}`)) : resolve(`r${i}`)), r.delay),
                ),
              );
          });
          await new Promise((r) => setTimeout(r, 20));
          expect(out).toEqual(replies.map((r, i) => (r.fail && !(r.sync && !r.fail) ? `error:e${i}` : `r${i}`)));
          expect(q.pending).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('drops everything after close', async () => {
    const out: unknown[] = [];
    const q = new ReplyQueue((v) => out.push(v), () => {});
    q.push(new Promise((r) => setTimeout(() => r('late'), 1)));
    q.close();
    await new Promise((r) => setTimeout(r, 5));
    expect(out).toEqual([]);
  });
});
