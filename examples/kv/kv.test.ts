import { connectProtocol } from 'skein/testing';
import { expect, it } from 'vitest';
import { KV, KVFactory } from './kv.js';

it('stores, reads and deletes keys, shared by the connections of one factory', () => {
  const factory = new KVFactory();
  const a = connectProtocol(new KV(), { factory });
  const b = connectProtocol(new KV(), { factory });
  for (const chunkSize of [1, 3, 100]) {
    a.receive('SET greeting hello world\r\n', { chunkSize });
  }
  b.receive('GET greeting\r\nDEL greeting\r\nGET greeting\r\nNOPE\r\n');
  expect(a.written()).toBe('OK\r\nOK\r\nOK\r\n');
  expect(b.written()).toBe("VALUE hello world\r\nDELETED\r\nNOT_FOUND\r\nERR unknown command 'NOPE'\r\n");
});

it('closes a connection idle for 60 s', () => {
  const h = connectProtocol(new KV(), { factory: new KVFactory() });
  h.advance(59);
  h.receive('KEYS\r\n');
  h.advance(59);
  expect(h.errorCodes).toEqual([]);
  h.advance(1);
  expect(h.errorCodes).toEqual(['SKEIN_ERR_IDLE_TIMEOUT']);
});
