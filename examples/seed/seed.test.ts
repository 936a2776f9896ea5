import { connectProtocol } from 'skein/testing';
import { expect, it } from 'vitest';
import { MyProtocol } from './seed.js';

it('welcomes, then answers every chunk with Processed:', () => {
  const h = connectProtocol(new MyProtocol());
  expect(h.written()).toBe('Welcome to my network application!\r\n');
  h.receive('hello');
  expect(h.written()).toBe('Welcome to my network application!\r\nProcessed: hello');
});
