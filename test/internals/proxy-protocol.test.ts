import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CidrList } from '../../src/shared/net/cidr.js';
import { encodeProxyV1, encodeProxyV2, parseProxyHeader, PROXY_V2_SIGNATURE } from '../../src/shared/net/proxy-protocol.js';

/** Feeds `data` in pieces of `size` bytes, as a socket would, until the parser decides. */
function parseInChunks(data: Buffer, size: number) {
  let seen = Buffer.alloc(0);
  for (let i = 0; i < data.length; i += size) {
    seen = Buffer.concat([seen, data.subarray(i, i + size)]);
    const r = parseProxyHeader(seen);
    if (r.state !== 'incomplete') return r;
  }
  return parseProxyHeader(seen);
}

describe('PROXY v1', () => {
  it.each([
    ['PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n', { type: 'TCP', host: '192.168.0.1', port: 56324 }],
    ['PROXY TCP6 2001:db8::1 ::1 1 65535\r\n', { type: 'TCP6', host: '2001:db8::1', port: 1 }],
  ])('parses %j', (text, source) => {
    const r = parseProxyHeader(Buffer.from(`${text}payload`));
    expect(r.state).toBe('done');
    if (r.state !== 'done') return;
    expect(r.header.source).toEqual(source);
    expect(r.rest.toString()).toBe('payload');
  });

  it('UNKNOWN keeps the real peer', () => {
    const r = parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n'));
    expect(r.state === 'done' && r.header.source).toBe(undefined);
  });

  it.each([
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', /CRLF/],
    ['PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', /unknown protocol/],
    ['PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n', /not valid TCP4/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n', /ports/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 70000\r\n', /ports/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /6 fields/],
    ['PROXY TCP6 1.2.3.4 ::1 1 2\r\n', /not valid TCP6/],
    [`PROXY TCP4 ${'1'.repeat(120)}`, /longer than 107/],
    ['GET / HTTP/1.1\r\n', /no PROXY/],
  ])('rejects %j', (text, reason) => {
    const r = parseProxyHeader(Buffer.from(text));
    expect(r.state).toBe('error');
    expect(r.state === 'error' && r.reason).toMatch(reason);
  });

  it('waits for more bytes on a truncated header', () => {
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4')).state).toBe('incomplete');
    expect(parseProxyHeader(Buffer.from('PRO')).state).toBe('incomplete');
  });

  it('respects the accepted version', () => {
    expect(parseProxyHeader(encodeProxyV2(), 'v1').state).toBe('error');
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'), 'v2').state).toBe('error');
  });
});

describe('PROXY v2', () => {
  it('parses TLVs and the LOCAL command', () => {
    const tlvs = [{ type: 0x02, value: Buffer.from('example.com') }, { type: 0xe0, value: Buffer.alloc(0) }];
    const r = parseProxyHeader(encodeProxyV2({ host: '10.1.2.3', port: 80 }, { host: '10.0.0.1', port: 8080 }, tlvs));
    expect(r.state === 'done' && r.header).toMatchObject({ version: 2, command: 'PROXY', source: { host: '10.1.2.3', port: 80 }, tlvs });
    const local = parseProxyHeader(encodeProxyV2());
    expect(local.state === 'done' && local.header.command).toBe('LOCAL');
  });

  it('parses a UNIX address block', () => {
    const head = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x31, 0, 216])]);
    const body = Buffer.alloc(216);
    body.write('/run/client.sock', 0);
    body.write('/run/server.sock', 108);
    const r = parseProxyHeader(Buffer.concat([head, body]));
    expect(r.state === 'done' && r.header.source).toEqual({ type: 'UNIX', path: '/run/client.sock' });
  });

  it.each([
    ['wrong version', (b: Buffer) => (b[12] = 0x11), /version nibble/],
    ['unknown command', (b: Buffer) => (b[12] = 0x2f), /unknown command/],
    ['unknown family', (b: Buffer) => (b[13] = 0x51), /unknown address family/],
    ['address block truncated', (b: Buffer) => b.writeUInt16BE(4, 14), /truncated/],
    ['oversized', (b: Buffer) => b.writeUInt16BE(0xffff, 14), /too long/],
  ])('rejects %s', (_name, mutate, reason) => {
    const b = Buffer.from(encodeProxyV2({ host: '1.2.3.4', port: 1 }, { host: '5.6.7.8', port: 2 }));
    mutate(b);
    const r = parseProxyHeader(Buffer.concat([b, Buffer.alloc(64)]));
    expect(r.state).toBe('error');
    expect(r.state === 'error' && r.reason).toMatch(reason);
  });

  it('rejects a wrong signature', () => {
    const b = Buffer.from(encodeProxyV2());
    b[11] = 0x0b;
    expect(parseProxyHeader(b).state).toBe('error');
  });

  it('rejects a TLV whose length runs past the header', () => {
    const good = encodeProxyV2({ host: '1.2.3.4', port: 1 }, { host: '5.6.7.8', port: 2 }, [{ type: 1, value: Buffer.from('ab') }]);
    const b = Buffer.from(good);
    b.writeUInt16BE(9, b.length - 4);
    expect(parseProxyHeader(b).state).toBe('error');
  });
});

describe('PROXY properties', () => {
  const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
  const ipv6 = fc.ipV6();
  const port = fc.nat(65535);

  it('encode → split anywhere → parse gives the addresses back and keeps the rest', () => {
    fc.assert(
      fc.property(
        fc.oneof(ipv4.map((h) => ({ h, v6: false })), ipv6.map((h) => ({ h, v6: true }))),
        port,
        port,
        fc.boolean(),
        fc.integer({ min: 1, max: 40 }),
        fc.uint8Array({ maxLength: 20 }),
        ({ h }, sp, dp, v2, chunk, rest) => {
          const dst = h.includes(':') ? '::1' : '127.0.0.1';
          const header = v2 ? encodeProxyV2({ host: h, port: sp }, { host: dst, port: dp }) : encodeProxyV1({ host: h, port: sp }, { host: dst, port: dp });
          const r = parseInChunks(Buffer.concat([header, Buffer.from(rest)]), chunk);
          expect(r.state).toBe('done');
          if (r.state !== 'done') return;
          expect(r.header.source && 'port' in r.header.source && r.header.source.port).toBe(sp);
          // Parsing stops at the first chunk that completes the header: what follows is a prefix of the payload.
          expect(Buffer.from(rest).subarray(0, r.rest.length).equals(r.rest)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random bytes never throw and never claim success without a signature', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const b = Buffer.from(bytes);
        const r = parseProxyHeader(b);
        if (r.state === 'done') expect(b.subarray(0, 5).toString() === 'PROXY' || b.subarray(0, 12).equals(PROXY_V2_SIGNATURE)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('random bytes after a valid v2 signature never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(() => parseProxyHeader(Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from(bytes)]))).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });
});

describe('CidrList', () => {
  it('matches IPv4, IPv6 and IPv4-mapped addresses', () => {
    const list = new CidrList(['127.0.0.0/8', '::1/128', '10.0.0.0/8']);
    expect(list.contains('127.0.0.1')).toBe(true);
    expect(list.contains('::ffff:127.0.0.1')).toBe(true);
    expect(list.contains('::1')).toBe(true);
    expect(list.contains('10.200.0.1')).toBe(true);
    expect(list.contains('192.168.0.1')).toBe(false);
    expect(list.contains('garbage')).toBe(false);
    expect(() => new CidrList(['10.0.0.0/33'])).toThrow(/invalid CIDR/);
  });
});
