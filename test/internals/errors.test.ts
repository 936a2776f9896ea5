import { describe, expect, it } from 'vitest';
import { deserializeError, errorClasses, errorCode, OffloadError, serializeError, SkeinError, WorkerError } from '../../src/shared/protocol/errors.js';

describe('errors', () => {
  it.each(Object.entries(errorClasses))('%s has a SKEIN_ERR_ code, a default message, and survives the wire', (name, Class) => {
    const error = new Class();
    expect(error).toBeInstanceOf(SkeinError);
    expect(error.name).toBe(name);
    expect(error.code).toMatch(/^SKEIN_ERR_[A-Z_]+$/);
    expect(error.message.length).toBeGreaterThan(0);
    const back = deserializeError(JSON.parse(JSON.stringify(serializeError(error))), OffloadError);
    expect(back).toBeInstanceOf(Class);
    expect((back as SkeinError).code).toBe(error.code);
  });

  it('codes are unique', () => {
    const codes = Object.values(errorClasses).map((C) => new C().code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('rebuilds a foreign error as the catalogue class for its origin, keeping name, code and message', () => {
    const original = Object.assign(new RangeError('too big'), { code: 'E_TOO_BIG' });
    const back = deserializeError(serializeError(original), OffloadError);
    expect(back).toBeInstanceOf(OffloadError);
    expect(back.name).toBe('RangeError');
    expect(back.message).toBe('too big');
    expect(errorCode(back)).toBe('E_TOO_BIG');
    expect(errorCode('nope')).toBe('SKEIN_ERR_UNKNOWN');
  });

  it('gives a foreign error without a code the code of its origin', () => {
    const back = deserializeError(serializeError(new TypeError('boom')), WorkerError);
    expect(back).toBeInstanceOf(WorkerError);
    expect(back.name).toBe('TypeError');
    expect(back.code).toBe(WorkerError.code);
  });
});
