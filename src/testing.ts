/**
 * `skein/testing`: fakes that ship with the library, so protocols are tested
 * without sockets (Twisted's `internet.testing`).
 */
export { StringTransport } from './shared/testing/string-transport.js';
