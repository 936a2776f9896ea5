/**
 * Closed-loop keep-alive HTTP clients (for the drain test and bench/drain-keepalive.ts).
 * Each sends `GET /`, reads the response, and sends the next at once. A
 * connection the server closes (after `Connection: close`, or while idle) is
 * replaced by a new one; a request written on a connection that closes before
 * its response counts as sent and unanswered (never retried), apart as
 * `unansweredFirst` when it was the first request of a new connection (one that
 * raced the port closing: the kernel completed the handshake, no server took it).
 */
import { connect, type Socket } from 'node:net';

export interface KeepAliveCounts {
  sent: number;
  answered: number;
  unanswered: number;
  /** Of `unanswered`: the first request of a new connection. */
  unansweredFirst: number;
  /** Responses that carried `Connection: close`. */
  connectionClose: number;
  connections: number;
}

const REQUEST = 'GET / HTTP/1.1\r\nHost: keepalive\r\n\r\n';

export function keepAliveLoad(port: number, conns: number): { counts: KeepAliveCounts; stop(): Promise<void> } {
  const counts: KeepAliveCounts = { sent: 0, answered: 0, unanswered: 0, unansweredFirst: 0, connectionClose: 0, connections: 0 };
  let stopped = false;
  const sockets = new Set<Socket>();
  const loop = () => {
    if (stopped) return;
    const socket = connect({ port, host: '127.0.0.1' });
    sockets.add(socket);
    let waiting = false;
    let answeredHere = 0;
    let text = '';
    let refused = false;
    socket.on('error', (e: NodeJS.ErrnoException) => (refused = e.code === 'ECONNREFUSED'));
    const send = () => {
      if (stopped) return void socket.end();
      waiting = true;
      text = '';
      counts.sent++;
      socket.write(REQUEST);
    };
    socket.on('connect', () => {
      counts.connections++;
      send();
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = Number(/content-length: *(\d+)/i.exec(text.slice(0, head))?.[1] ?? 0);
      if (text.length < head + 4 + length) return;
      waiting = false;
      answeredHere++;
      counts.answered++;
      if (/\r\nconnection: *close\r\n/i.test(text.slice(0, head + 2))) {
        counts.connectionClose++;
        socket.end();
        return;
      }
      send();
    });
    socket.on('close', () => {
      sockets.delete(socket);
      if (waiting) {
        counts.unanswered++;
        if (answeredHere === 0) counts.unansweredFirst++;
      }
      // A server that refuses new connections (it has shut down) ends this client.
      if (!refused) setImmediate(loop);
    });
  };
  for (let i = 0; i < conns; i++) loop();
  return {
    counts,
    async stop() {
      stopped = true;
      const deadline = Date.now() + 5000;
      while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const s of sockets) s.destroy();
    },
  };
}
