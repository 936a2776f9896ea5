import { describe, expect, it } from 'vitest';
import { logSettings } from '../../src/shared/log.js';
import { prettyLine } from '../../src/shared/log-pretty.js';

describe('log settings', () => {
  it('default to info, pretty on a terminal and JSON otherwise', () => {
    expect(logSettings({}, true)).toEqual({ level: 'info', format: 'pretty' });
    expect(logSettings({}, false)).toEqual({ level: 'info', format: 'json' });
    expect(logSettings({ SKEIN_LOG_LEVEL: 'debug', SKEIN_LOG_FORMAT: 'json' }, true)).toEqual({ level: 'debug', format: 'json' });
  });

  it('refuse a bad level or format with an option error naming the variable', () => {
    expect(() => logSettings({ SKEIN_LOG_LEVEL: 'loud' })).toThrow(
      expect.objectContaining({ code: 'SKEIN_ERR_INVALID_OPTION', message: "SKEIN_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got 'loud')" }),
    );
    expect(() => logSettings({ SKEIN_LOG_FORMAT: 'xml' })).toThrow(expect.objectContaining({ code: 'SKEIN_ERR_INVALID_OPTION' }));
  });
});

describe('pretty lines', () => {
  it('show time, level, who and message, then the other fields', () => {
    const record = JSON.stringify({ level: 30, time: '2026-11-28T12:04:31.207Z', pid: 42, role: 'worker', worker: 1, msg: 'listening', port: 9000, tags: ['a'] });
    expect(prettyLine(record)).toBe('12:04:31.207 INFO  worker 1 42: listening port=9000 tags=["a"]\n');
  });

  it('indent an error stack below the line, and pass other text through', () => {
    const record = JSON.stringify({ level: 50, time: '2026-11-28T12:04:31.207Z', pid: 1, role: 'primary', msg: 'boom', err: { type: 'Error', message: 'x', stack: 'Error: x\n    at f' } });
    expect(prettyLine(record)).toBe('12:04:31.207 ERROR primary 1: boom\n    Error: x\n        at f\n');
    expect(prettyLine('not json')).toBe('not json\n');
  });

  it('colour only when asked', () => {
    expect(prettyLine(JSON.stringify({ level: 40, msg: 'm' }), true)).toContain('\x1b[33mWARN');
  });
});
