import type { Socket } from 'node:net';
import { parseProxyHeader, type ProxyHeader, type ProxyVersion } from './proxy-protocol.js';
import { ProxyHeaderError } from '../protocol/errors.js';

/**
 * Reads a PROXY protocol header from the start of `socket`, within `timeoutMs`.
 * Bytes after the header are put back (`unshift`) for the protocol; the socket
 * is left paused. Rejects with the reason on a bad, missing or late header.
 */
export function readProxyHeader(socket: Socket, accept: ProxyVersion, timeoutMs: number): Promise<ProxyHeader> {
  return new Promise((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    const finish = (error: Error | undefined, header?: ProxyHeader, rest?: Buffer) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      if (error) return reject(error);
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(header!);
    };
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const result = parseProxyHeader(received, accept);
      if (result.state === 'done') finish(undefined, result.header, result.rest);
      else if (result.state === 'error') finish(new ProxyHeaderError(result.reason));
    };
    const onEnd = () => finish(new ProxyHeaderError('connection closed before a complete PROXY header'));
    const timer = setTimeout(() => finish(new ProxyHeaderError(`no complete PROXY header within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}
