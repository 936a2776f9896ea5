import { connectProtocol } from 'skein/testing';
import { expect, it } from 'vitest';
import { Greeter } from '../src/protocol.js';

it('greets, then answers each line however it is split', () => {
  for (const chunkSize of [1, 2, 3, 100]) {
    const h = connectProtocol(new Greeter());
    h.receive('hi\r\nthere\r\n', { chunkSize });
    expect(h.written()).toBe('hello! send me a line\r\nyou said: hi\r\nyou said: there\r\n');
  }
});
