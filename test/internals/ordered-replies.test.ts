import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { realClock } from '../../src/shared/protocol/clock.js';
import { Factory, START } from '../../src/shared/protocol/factory.js';
import { Protocol } from '../../src/shared/protocol/protocol.js';
import type { OffloadRequest, ReactorServices } from '../../src/shared/protocol/services.js';
import { StringTransport } from '../../src/shared/protocol/testing/string-transport.js';

/** Each line is offloaded; replies must leave in line order whatever order the tasks settle in. */
class Pipelined extends Protocol {
  override dataReceived(data: Buffer): void {
    for (const line of data.toString().split('\n').filter(Boolean)) {
      this.reply(this.offload<string>('work', line).then((v) => `${v}\n`));
    }
  }
  override replyFailed(error: unknown): void {
    this.transport.write(`ERR ${(error as Error).message}\n`);
  }
}

describe('Protocol.reply with offloaded tasks', () => {
  it('writes replies in request order however the tasks settle (fast-check scheduler)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.boolean(), { minLength: 1, maxLength: 25 }), fc.integer({ min: 1, max: 5 }), async (s, fails, chunks) => {
        const reactor: ReactorServices = {
          clock: realClock,
          offload: (request: OffloadRequest) => {
            const line = String(request.payload);
            const fail = fails[Number(line.slice(1))]!;
            return s.schedule(fail ? Promise.reject(new Error(`no ${line}`)) : Promise.resolve(`done ${line}`), line);
          },
        };
        const factory = Factory.forProtocol(Pipelined);
        factory.processors = 'file:///fake-processors.js';
        await factory[START](reactor);
        const protocol = factory.buildProtocol({ type: 'TCP', host: '127.0.0.1', port: 1 })!;
        const transport = new StringTransport();
        protocol.makeConnection(transport);
        const lines = fails.map((_, i) => `r${i}\n`);
        const size = Math.ceil(lines.length / chunks);
        // Requests arrive in a few reads (the first ones may be answered before the rest arrive).
        for (let at = 0; at < lines.length; at += size) {
          protocol.dataReceived(Buffer.from(lines.slice(at, at + size).join('')));
          if (s.count() > 0) await s.waitOne(); // the scheduler picks which pending task settles
        }
        await s.waitAll();
        expect(transport.value().toString()).toBe(fails.map((fail, i) => (fail ? `ERR no r${i}\n` : `done r${i}\n`)).join(''));
        expect(protocol.pendingReplies).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});
