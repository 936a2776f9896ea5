/** Where a connection comes from or arrives at. Twisted's `IPv4Address` / `IPv6Address` / `UNIXAddress`. */
export type Address =
  | {
      /** `TCP` for IPv4, `TCP6` for IPv6. */
      readonly type: 'TCP' | 'TCP6';
      /** The IP address, without brackets. */
      readonly host: string;
      /** The TCP port. */
      readonly port: number;
    }
  | {
      /** A Unix socket. */
      readonly type: 'UNIX';
      /** The socket's path (empty for an unnamed client end). */
      readonly path: string;
    };

/** Builds an {@link Address} from the fields node:net reports for a socket end. */
export function addressFrom(host: string | undefined, port: number | undefined, family?: string): Address {
  if (host === undefined || port === undefined) return { type: 'UNIX', path: host ?? '' };
  const v6 = family === 'IPv6' || (family === undefined && host.includes(':'));
  return { type: v6 ? 'TCP6' : 'TCP', host, port };
}

/** `127.0.0.1:9000`, `[::1]:9000` or `unix:/path`: for logs. */
export function formatAddress(address: Address): string {
  if (address.type === 'UNIX') return `unix:${address.path}`;
  return address.type === 'TCP6' ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
