import { describe, expect, it } from 'vitest';
import { DurationCounts, MessageMeter, type MessageSink } from '../../src/shared/protocol/message-meter.js';

const BOUNDS = [0.001, 0.01, 0.1];

function sink(): MessageSink {
  return { messages: 0, durations: new DurationCounts(BOUNDS) };
}

/** A meter on a clock the test moves, counting how often it is read. */
function meter() {
  const clock = { now: 0, reads: 0 };
  const s = sink();
  const m = new MessageMeter(s, () => {
    clock.reads++;
    return clock.now;
  });
  return { clock, sink: s, meter: m };
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
  it('counts frames and times each from its chunk’s arrival to the flush of its reply, first in first out', () => {
    const { clock, sink: s, meter: m } = meter();
    clock.now = 10;
    m.arrived();
    m.received(); // arrives at 10
    m.received(); // the same chunk: also 10
    clock.now = 12;
    m.arrived();
    m.received(); // 12
    expect(s.messages).toBe(3);
    clock.now = 10.5;
    m.replied();
    m.flushed(); // 0.5 ms
    clock.now = 30;
    m.replied();
    m.flushed(); // 20 ms
    clock.now = 212;
    m.replied();
    m.flushed(); // 200 ms
    expect([...s.durations.counts]).toEqual([1, 0, 1, 1]);
    expect(m.waiting).toBe(0);
  });

  it('reads the clock at most twice per chunk, however many frames it holds', () => {
    const { clock, sink: s, meter: m } = meter();
    m.arrived();
    for (let i = 0; i < 16; i++) m.received();
    clock.now = 1;
    for (let i = 0; i < 16; i++) m.replied();
    m.flushed();
    expect(clock.reads).toBe(2);
    expect(s.durations.count).toBe(16);
    // A chunk with no frame (a protocol that does not report frames) costs no read at all.
    m.arrived();
    m.flushed();
    expect(clock.reads).toBe(2);
  });

  it('ignores writes with no frame waiting (a greeting, a push)', () => {
    const { sink: s, meter: m } = meter();
    m.replied();
    m.flushed();
    m.arrived();
    m.received();
    m.replied();
    m.replied();
    m.flushed();
    m.flushed();
    expect(s.durations.count).toBe(1);
    expect(s.messages).toBe(1);
  });

  it('keeps a bounded number of timestamps for frames that never get a reply', () => {
    const { sink: s, meter: m } = meter();
    for (let i = 0; i < 10_000; i++) m.received();
    expect(s.messages).toBe(10_000);
    expect(m.waiting).toBe(4096);
    for (let i = 0; i < 5000; i++) m.replied();
    m.flushed();
    expect(s.durations.count).toBe(4096);
    expect(m.waiting).toBe(0);
  });

  it('pairs replies with frames first in first out across slot reuse and compaction', () => {
    const { clock, sink: s, meter: m } = meter();
    // Each batch of frames arrives at one time and is answered 0.5 ms later: a reply paired with a frame
    // of another batch would take a second or more and land in the last bucket.
    const batch = (at: number, frames: number, replies: number) => {
      clock.now = at;
      m.arrived();
      for (let i = 0; i < frames; i++) m.received();
      clock.now = at + 0.5;
      for (let i = 0; i < replies; i++) m.replied();
      m.flushed();
    };
    batch(0, 1500, 1100); // the head passes 1024: the 400 still waiting move to the front
    expect(m.waiting).toBe(400);
    batch(1000, 0, 400); // answered 1000.5 ms after they arrived: the last bucket
    batch(2000, 10, 10);
    expect(m.waiting).toBe(0);
    batch(3000, 3, 3); // slots reused from the start
    expect([...s.durations.counts]).toEqual([1100 + 10 + 3, 0, 0, 400]);
  });
});
