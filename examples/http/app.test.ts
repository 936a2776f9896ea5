import { HttpProtocol } from 'skein';
import { connectProtocol } from 'skein/testing';
import { expect, it, vi } from 'vitest';
import factory from './app.js';

function request(raw: string) {
  const h = connectProtocol(new HttpProtocol(), { factory });
  h.receive(raw.replaceAll('\n', '\r\n'), { chunkSize: 7 });
  return h;
}

it('answers the routes, pipelined requests in order', async () => {
  const h = request('GET /hello?name=ann HTTP/1.1\nHost: x\n\nPOST /echo HTTP/1.1\nHost: x\nContent-Length: 2\n\nhiGET /nope HTTP/1.1\nHost: x\n\n');
  await vi.waitFor(() => expect(h.written()).toContain('no such page'));
  const statuses = [...h.written().matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
  expect(statuses).toEqual(['200', '200', '404']);
  expect(h.written()).toContain('{"hello":"ann"}');
  expect(h.written()).toContain('Content-Length: 2\r\n\r\nhi');
});
