/**
 * `ws-echo`: a WebSocket echo service on a plain endpoint. Each connection
 * starts with an HTTP/1.1 upgrade request (any path); every message comes
 * back as it came, text as text and binary as binary. Service options are
 * the WebSocket ones (`--option perMessageDeflate=true`,
 * `--option maxMessageBytes=65536`, …). `skein serve ws-echo`.
 */
import { WebSocketFactory } from './websocket/factory.js';
import { WebSocketProtocol } from './websocket/protocol.js';

export class WebSocketEcho extends WebSocketProtocol {
  override messageReceived(data: Buffer, isBinary: boolean): void {
    this.sendMessage(data, { binary: isBinary });
  }
}

/** The factory `skein serve ws-echo` runs. */
export default new WebSocketFactory({ protocol: WebSocketEcho });
