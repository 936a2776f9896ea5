/** A line-oriented TCP test client over real sockets. */
import { connect, type NetConnectOpts, type Socket } from 'node:net';
import { once } from 'node:events';

export interface TestClient {
  readonly socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** Waits until the received text satisfies `predicate` (bounded). */
  waitFor(predicate: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Waits for the socket to close; resolves with whether it closed with an error. */
  closed(): Promise<{ hadError: boolean }>;
  write(data: string | Buffer): void;
  end(): void;
}

export function connectClient(port: number, host = '127.0.0.1', localAddress?: string): Promise<TestClient> {
  return connectTo({ port, host, ...(localAddress ? { localAddress } : {}) });
}

/** The same client over a unix socket. */
export function connectUnix(path: string): Promise<TestClient> {
  return connectTo({ path });
}

async function connectTo(options: NetConnectOpts): Promise<TestClient> {
  const socket = connect(options);
  socket.on('error', () => {});
  await once(socket, 'connect');
  let text = '';
  const waiters: Array<() => void> = [];
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<{ hadError: boolean }>((resolve) => socket.once('close', (hadError) => resolve({ hadError })));
  return {
    socket,
    received: () => text,
    waitFor(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate(text)) {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(check), 1);
            resolve(text);
          }
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`timed out waiting; received so far: ${JSON.stringify(text)}`));
        }, timeoutMs);
        waiters.push(check);
        void closed.then(() => {
          if (!predicate(text)) {
            clearTimeout(timer);
            reject(new Error(`connection closed; received: ${JSON.stringify(text)}`));
          }
        });
        check();
      });
    },
    closed: () => closed,
    write: (data) => void socket.write(data),
    end: () => void socket.end(),
  };
}

/** Fetches and parses a Prometheus exposition: `name{labels}` → value. */
export async function scrape(port: number, path = '/metrics'): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return parseExposition(await res.text());
}

/** Parses a Prometheus text exposition: `name{labels}` → value. */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Sum of every series of `name` whose labels include `match` (e.g. `protocol="processed"`). */
export function sumSeries(metrics: Map<string, number>, name: string, match = ''): number {
  let total = 0;
  for (const [key, value] of metrics) {
    const base = key.split('{')[0];
    if (base === name && key.includes(match)) total += value;
  }
  return total;
}
