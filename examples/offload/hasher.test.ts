import { MemoryReactor, connectProtocol } from 'skein/testing';
import { expect, it, vi } from 'vitest';
import { Hasher, HasherFactory } from './hasher.js';
import { digest } from './processors.js';

it('answers each line with its digest, in order (processors.ts run inline by the MemoryReactor)', async () => {
  const reactor = new MemoryReactor();
  const h = connectProtocol(new Hasher(), { factory: new HasherFactory(), reactor });
  h.receive('a\r\nb\r\n', { chunkSize: 1 });
  const expected = ['a', 'b'].map((s) => digest(Buffer.from(s), { signal: new AbortController().signal })).join('\r\n') + '\r\n';
  await vi.waitFor(() => expect(h.written()).toBe(expected), { timeout: 10_000 });
  expect(reactor.offloaded.map((r) => r.task)).toEqual(['digest', 'digest']);
});

it('a digest stops once its task is cancelled', () => {
  const controller = new AbortController();
  controller.abort(new Error('cancelled'));
  expect(() => digest(Buffer.from('x'), { signal: controller.signal })).toThrow('cancelled');
});

it('a failed task is answered with its code', async () => {
  const reactor = new MemoryReactor({ processors: {} });
  const h = connectProtocol(new Hasher(), { factory: new HasherFactory(), reactor });
  h.receive('a\r\n');
  await vi.waitFor(() => expect(h.written()).toBe('ERR SKEIN_ERR_NO_PROCESSOR\r\n'));
});
