import type { Socket } from 'node:net';
import { TLSSocket, type TlsOptions } from 'node:tls';
import { addressFrom, type Address } from '../shared/protocol/address.js';
import { CidrList, LOOPBACK_CIDRS } from '../shared/net/cidr.js';
import type { Endpoint } from '../shared/net/endpoint.js';
import { TlsHandshakeError } from '../shared/protocol/errors.js';
import type { Logger } from '../shared/log.js';
import { readProxyHeader } from '../shared/net/proxy-reader.js';
import type { ProtocolStats } from './stats.js';
import { tlsOptions } from '../shared/net/tls-options.js';

/** How long a peer has to send its PROXY header (HAProxy's recommendation: a few seconds). */
export const PROXY_HEADER_TIMEOUT_MS = 3000;
/** How long a TLS handshake may take. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * What happens on a new socket before its protocol exists: the PROXY header
 * (when the endpoint asks for one, only from trusted sources) and the TLS
 * handshake (for `tls:` endpoints), in that order. Failures close that socket
 * and are counted; they never reach the process.
 */
export class Preamble {
  private readonly trusted: CidrList | undefined;
  private readonly tls: TlsOptions | undefined;

  constructor(
    private readonly endpoint: Endpoint,
    text: string,
    private readonly log: Logger,
    private readonly stats: ProtocolStats,
  ) {
    this.trusted = endpoint.proxy ? new CidrList(endpoint.trusted ?? LOOPBACK_CIDRS) : undefined;
    this.tls = endpoint.kind === 'tls' ? tlsOptions(endpoint, text) : undefined;
  }

  /** True when there is nothing to wait for (no PROXY header, no TLS): `run` calls `accept` before it returns. */
  get immediate(): boolean {
    return this.tls === undefined && !this.endpoint.proxy;
  }

  /** Runs the preamble on `raw`, then hands the (possibly TLS) socket and the real peer to `accept`. */
  run(raw: Socket, accept: (socket: Socket, peer: Address) => void): void {
    const socketPeer = addressFrom(raw.remoteAddress, raw.remotePort, raw.remoteFamily);
    if (!this.endpoint.proxy) {
      this.secure(raw, socketPeer, accept);
      return;
    }
    const fromUnix = this.endpoint.kind === 'unix';
    if (!fromUnix && !this.trusted!.contains(raw.remoteAddress ?? '')) {
      this.stats.reject('proxy_header');
      this.log.warn({ peer: raw.remoteAddress }, 'PROXY header from an untrusted source; connection closed');
      raw.destroy();
      return;
    }
    readProxyHeader(raw, this.endpoint.proxy, PROXY_HEADER_TIMEOUT_MS).then(
      (header) => this.secure(raw, header.source ?? socketPeer, accept),
      (error: Error) => {
        this.stats.reject('proxy_header');
        this.log.warn({ peer: raw.remoteAddress, reason: error.message }, 'bad PROXY header; connection closed');
        raw.destroy();
      },
    );
  }

  private secure(raw: Socket, peer: Address, accept: (socket: Socket, peer: Address) => void): void {
    if (!this.tls) {
      accept(raw, peer);
      return;
    }
    let socket: TLSSocket;
    try {
      socket = new TLSSocket(raw, { ...this.tls, isServer: true });
    } catch (error) {
      // Whatever a client does must cost its own connection only, never the worker.
      this.stats.error(TlsHandshakeError.code);
      this.log.warn({ err: error, peer: raw.remoteAddress }, 'TLS session could not start');
      raw.destroy();
      return;
    }
    const timer = setTimeout(() => socket.destroy(), TLS_HANDSHAKE_TIMEOUT_MS);
    const onError = (error: Error) => {
      clearTimeout(timer);
      this.stats.error(TlsHandshakeError.code);
      this.log.debug({ err: error, peer: raw.remoteAddress }, 'TLS handshake failed');
      socket.destroy();
      raw.destroy();
    };
    socket.once('error', onError);
    socket.once('secure', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      accept(socket, peer);
    });
  }
}
