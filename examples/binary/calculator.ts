/**
 * A calculator on the frame protocol of frames.ts: PING is answered with PONG and
 * the same payload; ADD carries two signed 32-bit big-endian integers and is
 * answered with SUM and their sum (as a 32-bit integer); any other type closes
 * the connection with `APP_ERR_UNKNOWN_TYPE`, counted in
 * `skein_protocol_errors_total{code="APP_ERR_UNKNOWN_TYPE"}`.
 *
 *   npx skein serve examples/binary/calculator.ts --port 9000
 */
import { Factory, SkeinError } from 'skein';
import { FrameReceiver } from './frames.js';

export const Type = { PING: 1, PONG: 2, ADD: 3, SUM: 4 } as const;

export class UnknownTypeError extends SkeinError {
  constructor(readonly type: number) {
    super('APP_ERR_UNKNOWN_TYPE', `unknown message type ${type}`);
  }
}

export class Calculator extends FrameReceiver {
  override maxLength = 1024;

  override messageReceived(type: number, payload: Buffer): void {
    switch (type) {
      case Type.PING:
        return this.sendMessage(Type.PONG, payload);
      case Type.ADD: {
        if (payload.length !== 8) return this.closeWithError(new SkeinError('APP_ERR_BAD_PAYLOAD', 'ADD takes two 32-bit integers'));
        const sum = Buffer.allocUnsafe(4);
        sum.writeInt32BE((payload.readInt32BE(0) + payload.readInt32BE(4)) | 0);
        return this.sendMessage(Type.SUM, sum);
      }
      default:
        return this.closeWithError(new UnknownTypeError(type));
    }
  }
}

export default Factory.forProtocol(Calculator);
