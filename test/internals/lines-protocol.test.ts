import { describe, expect, it } from 'vitest';
import { LinesProtocol } from '../../src/protocols/lines.js';
import { connectProtocol, StringTransport } from '../../src/testing.js';

describe('lines protocol', () => {
  it('answers every line of a chunk with one gathered write of its three pieces, each reply intact', () => {
    const transport = new StringTransport();
    const kept: Array<ReadonlyArray<Buffer | string>> = [];
    const { writeSequence } = transport;
    transport.writeSequence = (chunks) => {
      kept.push([...chunks]); // the pieces, as a transport that holds them until a flush would
      writeSequence.call(transport, chunks);
    };
    const h = connectProtocol(new LinesProtocol(), { transport });
    h.receive('one\r\ntwo\nthree\r\n', { chunkSize: 5 });
    expect(h.written()).toBe('Processed: one\r\nProcessed: two\r\nProcessed: three\r\n');
    expect(kept.map((pieces) => pieces.map(String).join(''))).toEqual(['Processed: one\r\n', 'Processed: two\r\n', 'Processed: three\r\n']);
  });
});
