import { BlockList, isIP } from 'node:net';
import { InvalidEndpointError } from '../protocol/errors.js';

/** Loopback only: the default trust list for PROXY headers. */
export const LOOPBACK_CIDRS = ['127.0.0.0/8', '::1/128'] as const;

/**
 * A set of CIDR ranges (IPv4 and IPv6) backed by node's BlockList. An IPv4
 * peer seen as an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is matched as IPv4.
 */
export class CidrList {
  private readonly list = new BlockList();

  /** @throws InvalidEndpointError naming a malformed range. */
  constructor(readonly ranges: readonly string[]) {
    for (const range of ranges) {
      const [address, bits] = range.split('/');
      const family = isIP(address ?? '');
      const max = family === 6 ? 128 : 32;
      const prefix = bits === undefined ? max : Number(bits);
      if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits))) {
        throw new InvalidEndpointError(`invalid CIDR '${range}' (expected ADDRESS/BITS, e.g. 10.0.0.0/8 or ::1/128)`);
      }
      this.list.addSubnet(address!, prefix, family === 6 ? 'ipv6' : 'ipv4');
    }
  }

  /** True when `address` falls in one of the ranges. */
  contains(address: string): boolean {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    const plain = mapped ? mapped[1]! : address;
    const family = isIP(plain);
    if (family === 0) return false;
    return this.list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  }
}
