/**
 * skein: Twisted's protocol model for Node.js, on every core.
 * The public API; named exports only. Test helpers live in `skein/testing`.
 */
export { Protocol, type AnyProtocol } from './shared/protocol/protocol.js';
export { Factory, type ProtocolClass, type ProtocolFactory } from './shared/protocol/factory.js';
export type { Transport, Producer } from './shared/protocol/transport.js';
export type { Address } from './shared/protocol/address.js';
export { formatAddress } from './shared/protocol/address.js';
export type { Clock, DelayedCall } from './shared/protocol/clock.js';
export type { OffloadOptions, OffloadRequest, PausableReading, ProcessorContext, ReactorServices } from './shared/protocol/services.js';
export { parseEndpoint, formatEndpoint, type Endpoint, type TcpEndpoint, type TlsEndpoint, type UnixEndpoint } from './shared/net/endpoint.js';
export { DEFAULTS, type ServerOptions, type ServiceConfig } from './shared/config/options.js';
export { BALANCE_POLICIES, LOG_FORMATS, LOG_LEVELS, POOL_OVERLOAD_POLICIES, type BalancePolicy, type LogFormat, type LogLevel, type PoolOverload } from './shared/config/defaults.js';
export type { ConnectionLimit, PoolSettings } from './shared/config/option-table.js';
export type { BoundEndpoint } from './shared/ipc.js';
export type { ReplyValue } from './shared/protocol/reply-queue.js';
export { METRICS } from './shared/metric-names.js';
export * from './shared/protocol/errors.js';
export { reactor, listenTCP, listen, Reactor, type ReactorOptions } from './reactor.js';
export { serve, type ServeOptions, type RunningServer } from './serve.js';
export type { ServerOptionFields } from './shared/config/serve-options.js';
export { LineReceiver } from './shared/protocol/framing/line-receiver.js';
export { IntNStringReceiver, Int8StringReceiver, Int16StringReceiver, Int32StringReceiver } from './shared/protocol/framing/int-string-receiver.js';
export { NetstringReceiver } from './shared/protocol/framing/netstring-receiver.js';
export { TimeoutMixin, type ProtocolConstructor, type TimeoutProtocol } from './shared/protocol/policies/timeout.js';
export { ProtocolWrapper, WrappingFactory, WrappingTransport } from './shared/protocol/policies/wrapping.js';
export { ThrottlingFactory, ThrottlingProtocol, type ThrottlingOptions } from './shared/protocol/policies/throttling.js';
export { realClock } from './shared/protocol/clock.js';
export { HttpFactory, HttpProtocol, HttpRequest, HTTP_DEFAULTS, type HttpFactoryInit, type HttpHandler, type HttpConnection, type HttpHeaders, type HttpResponse, type HttpResponseHeaders, type HttpBody, type HttpHandlerResult, type HttpLimits } from './protocols/http.js';
export {
  WebSocketProtocol,
  WebSocketFactory,
  webSocketUpgrade,
  WEBSOCKET_DEFAULTS,
  PER_MESSAGE_DEFLATE_DEFAULTS,
  type WebSocketFactoryInit,
  type WebSocketOptions,
  type PerMessageDeflateOptions,
  type SendOptions,
  type MessageWriter,
  type UpgradeAnswer,
  type UpgradeAcceptance,
  type UpgradeRefusal,
} from './protocols/websocket/index.js';
export type { UpgradeVerdict } from './protocols/websocket/factory.js';
export type { WaterMarks } from './shared/net/socket-transport.js';
export type { ProxyOptions } from './shared/net/endpoint.js';
export type { ProxyVersion } from './shared/net/proxy-protocol.js';

export { connectTCP, type ConnectOptions } from './client/connector.js';
export { ClientFactory, type Connector, type ConnectorState } from './client/client-factory.js';
export { ReconnectingClientFactory, type ReconnectOptions } from './client/reconnecting-client-factory.js';
