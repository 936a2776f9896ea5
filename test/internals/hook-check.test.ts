import { describe, expect, it, vi } from 'vitest';
import { Factory } from '../../src/shared/protocol/factory.js';
import { LineReceiver } from '../../src/shared/protocol/framing/line-receiver.js';
import { editDistance, misspelledHooks, warnMisspelledHooks } from '../../src/shared/protocol/hook-check.js';
import { TimeoutMixin } from '../../src/shared/protocol/policies/timeout.js';
import { Protocol } from '../../src/shared/protocol/protocol.js';

describe('misspelled hooks', () => {
  it('edit distance', () => {
    expect(editDistance('dataRecieved', 'dataReceived')).toBe(2);
    expect(editDistance('kitten', 'sitting', 5)).toBe(3);
    expect(editDistance('a', 'abcdef')).toBe(3);
  });

  it('finds methods within two edits of a hook, in the class and its own bases', () => {
    class Mine extends Protocol {
      dataRecieved(): void {}
      connectionMde(): void {}
      helper(): void {}
    }
    class Lines extends TimeoutMixin(LineReceiver) {
      linereceived(): void {}
      override lineReceived(): void {}
    }
    class MyFactory extends Factory {
      startFactori(): void {}
    }
    expect(misspelledHooks(Mine)).toEqual([
      { method: 'dataRecieved', hook: 'dataReceived' },
      { method: 'connectionMde', hook: 'connectionMade' },
    ]);
    expect(misspelledHooks(Lines)).toEqual([{ method: 'linereceived', hook: 'lineReceived' }]);
    expect(misspelledHooks(MyFactory)).toEqual([{ method: 'startFactori', hook: 'startFactory' }]);
  });

  it("skein's own classes have none", () => {
    expect(misspelledHooks(LineReceiver)).toEqual([]);
    expect(misspelledHooks(TimeoutMixin(LineReceiver))).toEqual([]);
    expect(misspelledHooks(Factory)).toEqual([]);
  });

  it('warns once per class', () => {
    const emit = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    class Typo extends Protocol {
      dataRecieved(): void {}
    }
    warnMisspelledHooks(Typo);
    warnMisspelledHooks(Typo);
    expect(emit).toHaveBeenCalledTimes(1);
    expect(emit.mock.calls[0]![0]).toBe('Typo.dataRecieved looks like a misspelling of the hook dataReceived, which skein calls and dataRecieved it does not');
    emit.mockRestore();
  });
});
