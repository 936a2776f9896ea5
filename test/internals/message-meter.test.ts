import { describe, expect, it } from 'vitest';
import { DurationCounts, MessageMeter, type MessageSink } from '../../src/shared/message-meter.js';

const BOUNDS = [0.001, 0.01, 0.1];

function sink(): MessageSink {
  return { messages: 0, durations: new DurationCounts(BOUNDS) };
}

describe('DurationCounts', () => {
  it('puts each duration in the first bucket whose bound it does not exceed (bounds are inclusive)', () => {
    const d = new DurationCounts(BOUNDS);
    for (const ms of [0, 0.5, 1, 1.01, 10, 99, 100, 100.5, 5000]) d.observeMs(ms);
    expect([...d.counts]).toEqual([3, 2, 2, 2]);
    expect(d.count).toBe(9);
    expect(d.sum).toBeCloseTo((0 + 0.5 + 1 + 1.01 + 10 + 99 + 100 + 100.5 + 5000) / 1000, 9);
  });
});

describe('MessageMeter', () => {
  it('counts frames and times each from its arrival to its reply, first in first out', () => {
    let now = 0;
    const s = sink();
    const meter = new MessageMeter(s, () => now);
    now = 10;
    meter.arrived();
    meter.received(); // arrives at 10
    meter.received(); // the same chunk: also 10
    now = 12;
    meter.arrived();
    meter.received(); // 12
    expect(s.messages).toBe(3);
    expect(meter.waiting).toBe(3);
    now = 10.5;
    meter.replied(); // 0.5 ms
    now = 30;
    meter.replied(); // 20 ms
    now = 212;
    meter.replied(); // 200 ms
    expect([...s.durations.counts]).toEqual([1, 0, 1, 1]);
    expect(meter.waiting).toBe(0);
  });

  it('ignores writes with no frame waiting (a greeting, a push)', () => {
    const s = sink();
    const meter = new MessageMeter(s, () => 0);
    meter.replied();
    meter.arrived();
    meter.received();
    meter.replied();
    meter.replied();
    expect(s.durations.count).toBe(1);
    expect(s.messages).toBe(1);
  });

  it('keeps a bounded number of timestamps for frames that never get a reply', () => {
    const s = sink();
    const meter = new MessageMeter(s, () => 0);
    for (let i = 0; i < 10_000; i++) meter.received();
    expect(s.messages).toBe(10_000);
    expect(meter.waiting).toBe(4096);
  });
});
