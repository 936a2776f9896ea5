/**
 * `skein/testing`: fakes that ship with the library, so protocols are tested
 * without sockets (Twisted's `internet.testing`).
 */
export { StringTransport } from './shared/testing/string-transport.js';
export { FakeClock } from './shared/testing/fake-clock.js';
export { MemoryReactor, type Processors } from './shared/testing/memory-reactor.js';
export { connectProtocol, ProtocolHarness, type ConnectProtocolOptions, type ReceiveOptions } from './shared/testing/connect-protocol.js';
export { connectedPair, LoopbackPair, LoopbackEnd, LoopbackTransport, type ConnectedPairOptions } from './shared/testing/loopback.js';
