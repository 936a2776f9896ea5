/**
 * `skein/testing`: fakes that ship with the library, so protocols are tested
 * without sockets (Twisted's `internet.testing`).
 */
export { StringTransport } from './shared/protocol/testing/string-transport.js';
export { FakeClock } from './shared/protocol/testing/fake-clock.js';
export { MemoryReactor, type Processors } from './shared/protocol/testing/memory-reactor.js';
export { connectProtocol, ProtocolHarness, type ConnectProtocolOptions, type ReceiveOptions } from './shared/protocol/testing/connect-protocol.js';
export { connectedPair, LoopbackPair, LoopbackEnd, LoopbackTransport, type ConnectedPairOptions } from './shared/protocol/testing/loopback.js';
