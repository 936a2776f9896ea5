/**
 * Issue 15, case 5: a client that sends its requests and then half-closes
 * (`SHUT_WR`) gets every reply, those still pending in the offload pool
 * included, and then the connection closes. On the code before the fix, the
 * default `readConnectionLost()` closed with the replies pending: 0 of 20
 * clients got theirs, with `hash` and with `processed --offload`.
 */
import { pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { connectClient, type TestClient } from './helpers/client.js';
import { startServer } from './helpers/server.js';

const CLIENTS = 20;
const REQUESTS = 10;
const ROUNDS = 200;
const WELCOME = 'Welcome to my network application!\r\n';

const messages = (c: number) => Array.from({ length: REQUESTS }, (_, i) => `c${c}m${i}`);
const digest = (line: string) => pbkdf2Sync(line, 'skein-hash', ROUNDS, 32, 'sha256').toString('hex');

/** Connects CLIENTS clients, lets `ready` settle each, then each writes its lines and half-closes at once. */
async function sendAndHalfClose(port: number, ready: (c: TestClient) => Promise<unknown>): Promise<TestClient[]> {
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connectClient(port)));
  await Promise.all(clients.map(ready));
  clients.forEach((client, c) => client.socket.end(messages(c).map((m) => `${m}\n`).join('')));
  await Promise.all(clients.map((client) => client.closed()));
  return clients;
}

describe('a half-closed client gets every reply to what it sent before the FIN (issue 15, case 5)', () => {
  it('hash (offloaded): every client gets all its digests, in order, then the close', async () => {
    const server = await startServer(['hash', '--port', '0', '--workers', '1', '--option', `rounds=${ROUNDS}`, '--metrics-port', '0']);
    try {
      const clients = await sendAndHalfClose(server.port, async () => {});
      const answered = clients.filter((client, c) => client.received() === messages(c).map((m) => `${digest(m)}\n`).join(''));
      expect(answered).toHaveLength(CLIENTS);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('processed --offload: every client gets all its messages processed, in order, then the close', async () => {
    const server = await startServer(['processed', '--offload', '--port', '0', '--workers', '1', '--metrics-port', '0']);
    try {
      const clients = await sendAndHalfClose(server.port, (client) => client.waitFor((t) => t.startsWith(WELCOME)));
      // `processed` answers each chunk it reads: count the messages, not the replies.
      const answered = clients.filter((client, c) => (client.received().match(/c\d+m\d+/g) ?? []).join() === messages(c).join());
      expect(answered).toHaveLength(CLIENTS);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
