/** `ws` as a test client of skein's WebSocket services, and a raw client that reads a server's Close code. */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket, { type ClientOptions } from 'ws';
import { freePort, startServer, type StartedServer } from './server.js';
import { makeCerts } from './tls.js';
import { decodeServer } from './websocket.js';

export { WebSocket };

/** Opens a `ws` client and waits for `open` (rejects on error or an unexpected response). */
export async function openWs(url: string, options: ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, options);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
  return ws;
}

/** Sends `data` and waits for the next message: resolves with its bytes and kind. */
export function roundTrip(ws: WebSocket, data: Buffer | string, options: { binary?: boolean; fin?: boolean } = {}): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    ws.once('message', (message: Buffer, isBinary: boolean) => resolve({ data: Buffer.from(message), isBinary }));
    ws.send(data, options, (error) => error && reject(error));
  });
}

/** Closes a `ws` client and resolves with the close code and reason it saw. */
export async function closeWs(ws: WebSocket, code = 1000, reason = ''): Promise<{ code: number; reason: string }> {
  const closed = once(ws, 'close') as Promise<[number, Buffer]>;
  ws.close(code, reason);
  const [c, r] = await closed;
  return { code: c, reason: r.toString() };
}

/**
 * Sends raw bytes over a plain socket, reads until the server closes (or
 * `timeoutMs`), and returns what it wrote: its HTTP head, frames, and the
 * code of its last Close frame.
 */
export async function rawExchange(port: number, bytes: Buffer, timeoutMs = 10_000, prefix?: Buffer): Promise<{ head: string; closeCode: number | undefined; bytes: Buffer }> {
  const socket: Socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  if (prefix) socket.write(prefix);
  socket.write(bytes);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve();
    }, timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const all = Buffer.concat(chunks);
  const { head, frames } = decodeServer(all);
  const last = frames.at(-1);
  const closeCode = last?.opcode === 8 ? (last.payload.length >= 2 ? last.payload.readUInt16BE(0) : 1005) : undefined;
  return { head, closeCode, bytes: all };
}

const PYTHON_CLIENT = fileURLToPath(new URL('../fixtures/ws_client.py', import.meta.url));

/** Runs the stdlib-only Python WebSocket client; resolves with its exit code and output. */
export function runPythonClient(port: number, args: string[] = []): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('python3', [PYTHON_CLIENT, String(port), ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
    });
  });
}

/** A server started on the three endpoint kinds WebSocket must work on, and their ports. */
export interface EveryEndpointServer {
  readonly server: StartedServer;
  readonly tcp: number;
  readonly tls: number;
  /** Expects a PROXY v1 header first. */
  readonly proxied: number;
}

/** Starts `skein serve PROTOCOL` with 2 workers on tcp, tls and PROXY v1 endpoints (127.0.0.1), metrics on a free port. */
export async function startOnEveryEndpoint(protocol: string, extra: string[]): Promise<EveryEndpointServer> {
  const certs = makeCerts();
  const server = await startServer([
    protocol,
    ...['--listen', 'tcp:0:interface=127.0.0.1'],
    ...['--listen', `tls:0:interface=127.0.0.1:key=${certs.key}:cert=${certs.cert}`],
    ...['--listen', 'tcp:0:interface=127.0.0.1:proxy=v1'],
    ...['--workers', '2', '--metrics-port', String(await freePort())],
    ...extra,
  ]);
  const [tcp, tls, proxied] = server.endpoints.map((e) => e.port!) as [number, number, number];
  return { server, tcp, tls, proxied };
}
