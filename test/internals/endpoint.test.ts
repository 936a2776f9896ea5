import { describe, expect, it } from 'vitest';
import { formatEndpoint, parseEndpoint } from '../../src/shared/net/endpoint.js';
import { InvalidEndpointError } from '../../src/shared/protocol/errors.js';

describe('parseEndpoint', () => {
  it.each([
    ['tcp:9000', { kind: 'tcp', port: 9000 }],
    ['tcp:0:interface=127.0.0.1', { kind: 'tcp', port: 0, host: '127.0.0.1' }],
    ['tcp:9000:interface=127.0.0.1:backlog=128', { kind: 'tcp', port: 9000, host: '127.0.0.1', backlog: 128 }],
    ['tcp6:9000:interface=\\:\\:1', { kind: 'tcp6', port: 9000, host: '::1' }],
    ['unix:/tmp/s.sock:mode=660', { kind: 'unix', path: '/tmp/s.sock', mode: 0o660 }],
    ['tcp6:9000:interface=[::1]', { kind: 'tcp6', port: 9000, host: '::1' }],
    ['tcp:9000:proxy=v2:trusted=[10.0.0.0/8,::1/128]', { kind: 'tcp', port: 9000, proxy: 'v2', trusted: ['10.0.0.0/8', '::1/128'] }],
    ['tls:9443:key=k.pem:cert=c.pem', { kind: 'tls', port: 9443, key: 'k.pem', cert: 'c.pem' }],
    ['tls:9443:key=k:cert=c:ca=ca:sni=/etc/certs:proxy=any', { kind: 'tls', port: 9443, key: 'k', cert: 'c', ca: 'ca', sni: '/etc/certs', proxy: 'any' }],
  ])('parses %s', (text, expected) => {
    expect(parseEndpoint(text)).toEqual(expected);
  });

  it.each([
    ['', /empty/],
    ['tcp', /port/],
    ['tcp:abc', /port must be an integer/],
    ['tcp:70000', /port must be an integer/],
    ['tcp:1:colour=red', /unknown option 'colour'/],
    ['tcp:1:interface', /expected key=value/],
    ['udp:53', /unknown type 'udp'/],
    ['unix:', /unix needs a path/],
    ['unix:/x:mode=999', /mode must be octal/],
    ['tcp:1:backlog=0', /backlog must be a positive integer/],
    ['tls:443:key=k', /tls needs key=FILE and cert=FILE/],
    ['tcp:1:proxy=v3', /proxy must be v1, v2 or any/],
    ['tcp:1:trusted=10.0.0.0/8', /trusted= needs proxy/],
    ['tcp:1:proxy=v1:trusted=nope', /invalid CIDR 'nope'/],
    ['unix:/tmp/s.sock:proxy=v2:trusted=10.0.0.0/8', /trusted= cannot apply to a unix endpoint/],
  ])('rejects %j naming the bad part', (text, message) => {
    expect(() => parseEndpoint(text)).toThrow(InvalidEndpointError);
    expect(() => parseEndpoint(text)).toThrow(message);
  });

  it('formats back to a string it parses', () => {
    for (const text of ['tcp:9000', 'tcp:1:interface=127.0.0.1', 'tcp6:5:interface=\\:\\:1', 'unix:/a/b:mode=600', 'tls:1:key=a:cert=b:proxy=v1:trusted=[::1/128]']) {
      expect(parseEndpoint(formatEndpoint(parseEndpoint(text)))).toEqual({ ...parseEndpoint(text) });
    }
  });
});
