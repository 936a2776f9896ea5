/** Sends raw bytes to an HTTP server and reads what comes back, for tests that compare servers byte for byte. */
import { connect } from 'node:net';

export interface RawExchange {
  /** Final statuses of the responses, in order (1xx left out). */
  readonly statuses: number[];
  /** The server closed the connection. */
  readonly closed: boolean;
  readonly text: string;
}

/**
 * Writes `raw` (latin1) on a new connection to 127.0.0.1:`port`, then reads
 * until the server closes or stays quiet for `quietMs`.
 */
export function exchange(port: number, raw: string | Buffer, quietMs = 400): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ statuses: statusesOf(text), closed, text });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), quietMs);
    };
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      arm();
    });
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      socket.write(typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw);
      arm();
    });
  });
}

/** Walks the responses (status line, headers, Content-Length body) and returns their final statuses. */
export function statusesOf(text: string): number[] {
  const out: number[] = [];
  let pos = 0;
  while (pos < text.length) {
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(text.slice(pos, pos + 16));
    if (!match) break;
    const status = Number(match[1]);
    const headEnd = text.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) {
      out.push(status);
      break;
    }
    const head = text.slice(pos, headEnd).toLowerCase();
    const length = /\r\ncontent-length: *(\d+)/.exec(head);
    pos = headEnd + 4 + (length ? Number(length[1]) : 0);
    if (status >= 200) out.push(status);
  }
  return out;
}
