import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLoadArgs } from '../../src/client/load/options.js';
import { runLoad } from '../../src/client/load/runner.js';
import { Factory } from '../../src/shared/protocol/factory.js';
import { Protocol } from '../../src/shared/protocol/protocol.js';
import { Reactor } from '../../src/worker/reactor.js';

/** Answers each `\r\n`-terminated line with `Processed: <line>\r\n` (what the `lines` protocol does). */
class LineServer extends Protocol {
  private buffer = '';
  override dataReceived(data: Buffer): void {
    this.buffer += data.toString('latin1');
    let end;
    while ((end = this.buffer.indexOf('\r\n')) !== -1) {
      this.transport.write(`Processed: ${this.buffer.slice(0, end)}\r\n`);
      this.buffer = this.buffer.slice(end + 2);
    }
  }
}

/** Echoes int32 length-prefixed frames with a prefix added to each body. */
class Int32Server extends Protocol {
  private buffer = Buffer.alloc(0);
  override dataReceived(data: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, data]);
    while (this.buffer.length >= 4 && this.buffer.length >= 4 + this.buffer.readUInt32BE(0)) {
      const body = this.buffer.subarray(4, 4 + this.buffer.readUInt32BE(0));
      const reply = Buffer.concat([Buffer.from('ok:'), body]);
      const header = Buffer.alloc(4);
      header.writeUInt32BE(reply.length);
      this.transport.writeSequence([header, reply]);
      this.buffer = this.buffer.subarray(4 + body.length);
    }
  }
}

let reactor: Reactor | undefined;
afterEach(async () => {
  await reactor?.stop();
  reactor = undefined;
});

async function serve(protocol: new () => Protocol): Promise<number> {
  reactor = new Reactor({ log: pino({ level: 'silent' }) });
  return (await reactor.listen('tcp:0:interface=127.0.0.1', Factory.forProtocol(protocol), 'test')).port!;
}

describe('the load engine (in the calling thread)', () => {
  it.each([
    ['line', LineServer],
    ['int32', Int32Server],
  ] as const)('%s framing: every request answered, latency recorded', async (framing, server) => {
    const port = await serve(server);
    const options = parseLoadArgs(['--port', String(port), '--framing', framing, '-c', '3', '-p', '5', '-n', '1001', '--threads', '0']);
    const result = await runLoad(options);
    expect(result).toMatchObject({ requests: 1001, errors: 0, stalled: false, framing });
    expect(result.latencyMs.p50).toBeGreaterThan(0);
  });

  it('counts a connection the server drops as an error and ends the run', async () => {
    class Dropper extends Protocol {
      override dataReceived(): void {
        this.transport.abortConnection();
      }
    }
    const port = await serve(Dropper);
    const result = await runLoad(parseLoadArgs(['--port', String(port), '-c', '2', '-d', '30', '--threads', '0']));
    expect(result.errors).toBe(2);
    expect(result.requests).toBe(0);
  });

  it('a warm-up runs the load first without counting it: the window then answers exactly the request budget', async () => {
    let received = 0;
    class Counting extends LineServer {
      override dataReceived(data: Buffer): void {
        for (const byte of data) if (byte === 0x0a) received++;
        super.dataReceived(data);
      }
    }
    const port = await serve(Counting);
    const events: string[] = [];
    const options = parseLoadArgs(['--port', String(port), '-c', '2', '-p', '4', '-n', '500', '--warmup', '0.3', '--threads', '0']);
    const result = await runLoad(options, undefined, { warming: () => events.push(`warming at ${received}`), started: () => events.push('started') });
    expect(result).toMatchObject({ requests: 500, errors: 0, stalled: false, warmupSeconds: 0.3 });
    expect(events).toEqual(['warming at 0', 'started']);
    // The warm-up's requests reached the server too (a closed loop of 8 in flight runs thousands in 0.3 s).
    expect(received).toBeGreaterThan(500);
  });

  it('ends at once when every connection was lost during the warm-up, counting them as errors', async () => {
    class Dropper extends Protocol {
      override dataReceived(): void {
        this.transport.abortConnection();
      }
    }
    const port = await serve(Dropper);
    const result = await runLoad(parseLoadArgs(['--port', String(port), '-c', '2', '-d', '30', '--warmup', '0.2', '--threads', '0']));
    expect(result).toMatchObject({ errors: 2, requests: 0 });
    expect(result.durationSeconds).toBeLessThan(5);
  });
});
