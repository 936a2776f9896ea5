/** WebSocket (RFC 6455, with permessage-deflate, RFC 7692) on skein's Protocol API: the public surface. */
export { WebSocketProtocol } from './protocol.js';
export { WebSocketFactory, type WebSocketFactoryInit, type UpgradeAnswer, type UpgradeAcceptance, type UpgradeRefusal } from './factory.js';
export { WEBSOCKET_DEFAULTS, resolveWebSocketOptions, type WebSocketOptions } from './options.js';
export { PER_MESSAGE_DEFLATE_DEFAULTS, type PerMessageDeflateOptions } from './deflate.js';
export type { MessageWriter, SendOptions } from './session.js';
export { webSocketUpgrade } from './upgrade.js';
