import { connectProtocol } from 'skein/testing';
import { describe, expect, it } from 'vitest';
import { Calculator, Type } from './calculator.js';
import { encodeFrame, FrameReceiver, HEADER_SIZE } from './frames.js';

function ints(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeInt32BE(v, i * 4));
  return b;
}

class Recorder extends FrameReceiver {
  readonly frames: Array<[number, string]> = [];
  override messageReceived(type: number, payload: Buffer): void {
    this.frames.push([type, payload.toString('hex')]);
  }
}

describe('FrameReceiver', () => {
  const stream = Buffer.concat([encodeFrame(7, Buffer.from('abc')), encodeFrame(8), encodeFrame(9, Buffer.alloc(300, 1))]);

  it('gives the same frames however the stream is split (chunks of 1 … 10 bytes, and whole)', () => {
    for (const chunkSize of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, stream.length]) {
      const h = connectProtocol(new Recorder());
      h.receive(stream, { chunkSize });
      expect(h.protocol.frames).toEqual([
        [7, '616263'],
        [8, ''],
        [9, '01'.repeat(300)],
      ]);
    }
  });

  it('closes the connection when a frame announces more than maxLength', () => {
    const h = connectProtocol(new Recorder());
    h.receive(Buffer.from([1, 0x10, 0x01])); // 4097 bytes announced; nothing more needs to arrive
    expect(h.errorCodes).toEqual(['APP_ERR_FRAME_TOO_LONG']);
    expect(h.transport.aborted).toBe(true);
  });

  it('encodes a header of type and big-endian length', () => {
    expect(encodeFrame(2, Buffer.from('hi'))).toEqual(Buffer.from([2, 0, 2, 0x68, 0x69]));
    expect(HEADER_SIZE).toBe(3);
    expect(() => encodeFrame(1, Buffer.alloc(0x10000))).toThrow(RangeError);
  });
});

describe('Calculator', () => {
  it('answers PING with PONG and ADD with SUM, in order', () => {
    const h = connectProtocol(new Calculator());
    h.receive(Buffer.concat([encodeFrame(Type.PING, Buffer.from('x')), encodeFrame(Type.ADD, ints(40, 2)), encodeFrame(Type.ADD, ints(-5, 3))]), { chunkSize: 2 });
    expect(h.transport.value()).toEqual(
      Buffer.concat([encodeFrame(Type.PONG, Buffer.from('x')), encodeFrame(Type.SUM, ints(42)), encodeFrame(Type.SUM, ints(-2))]),
    );
  });

  it('closes on an unknown type or a bad ADD payload', () => {
    const unknown = connectProtocol(new Calculator());
    unknown.receive(encodeFrame(99));
    expect(unknown.errorCodes).toEqual(['APP_ERR_UNKNOWN_TYPE']);
    const bad = connectProtocol(new Calculator());
    bad.receive(encodeFrame(Type.ADD, Buffer.from('xy')));
    expect(bad.errorCodes).toEqual(['APP_ERR_BAD_PAYLOAD']);
  });
});
