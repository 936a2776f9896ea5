import { connectProtocol } from 'skein/testing';
import { expect, it } from 'vitest';
import { ChatFactory, ChatProtocol } from './chat.js';
import { Relay, RelayFactory } from './hub.js';

it('names each member, then passes lines to the others in the room', () => {
  const room = new ChatFactory();
  const alice = connectProtocol(new ChatProtocol(), { factory: room });
  const bob = connectProtocol(new ChatProtocol(), { factory: room });
  alice.receive('alice\r\n');
  bob.receive('bob\r\n', { chunkSize: 1 });
  alice.receive('hi bob\r\n', { chunkSize: 2 });
  expect(bob.written()).toBe('welcome! your name?\r\nhello bob, 2 here on this worker\r\nalice: hi bob\r\n');
  expect(alice.written()).toBe('welcome! your name?\r\nhello alice, 1 here on this worker\r\n');
  bob.connectionLost();
  expect(room.members.size).toBe(1);
});

it('the hub relays every line to every other link', () => {
  const hub = new RelayFactory();
  const [a, b, c] = [0, 1, 2].map(() => connectProtocol(new Relay(), { factory: hub }));
  a!.receive('alice: hi\r\n');
  expect([a!.written(), b!.written(), c!.written()]).toEqual(['', 'alice: hi\r\n', 'alice: hi\r\n']);
});
