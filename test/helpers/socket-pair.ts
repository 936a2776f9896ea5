/**
 * A real loopback TCP connection for tests of the per-connection machinery
 * (transport, driver, receivers): the accepted end, where the code under test
 * runs, and the peer playing the client. Call `closeSocketPairs` after each test.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { attachProtocol } from '../../src/shared/net/attach.js';
import type { SocketTransport } from '../../src/shared/net/socket-transport.js';
import type { AnyProtocol } from '../../src/shared/protocol/protocol.js';

const servers: Server[] = [];
const sockets: Socket[] = [];

/** Opens one connection on 127.0.0.1 (half-open allowed on the accepted end); the peer ignores socket errors. */
export async function socketPair(): Promise<{ socket: Socket; peer: Socket }> {
  let server!: Server;
  const accepted = new Promise<Socket>((resolve) => {
    server = createServer({ allowHalfOpen: true }, resolve);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const peer = connect((server.address() as { port: number }).port, '127.0.0.1');
  peer.on('error', () => {});
  sockets.push(peer);
  const socket = await accepted;
  sockets.push(socket);
  return { socket, peer };
}

/** Destroys every socket `socketPair` opened and closes its servers. */
export async function closeSocketPairs(): Promise<void> {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
}

/**
 * Runs `protocol` on the accepted end through attachProtocol, as the reactor does, and connects it.
 * `dispatches` gets one entry (0) per dispatch; a test adds its own count to the last one.
 */
export function serveProtocol(socket: Socket, protocol: AnyProtocol, marks: { high: number; low: number }): { transport: SocketTransport; dispatches: number[] } {
  const { transport, driver } = attachProtocol(socket, protocol, { marks, events: { callbackFailed: (e) => console.error(e) } });
  const dispatches: number[] = [];
  const begin = transport.beginDispatch.bind(transport);
  transport.beginDispatch = () => {
    dispatches.push(0);
    begin();
  };
  driver.connect();
  socket.resume();
  return { transport, dispatches };
}
