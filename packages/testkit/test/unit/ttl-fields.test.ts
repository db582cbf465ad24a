import { describe, expect, it } from 'vitest';
import { shiftTtlFields, TtlBelowOneError } from '../../src/internal/ttl-fields.js';

describe('shiftTtlFields', () => {
  it('shifts every whole-number ttl and leaves every other byte as it was', () => {
    const form = 'value=a%20b+c&ttl=5&prevExist=true&refresh=true&ttl=7';
    expect(shiftTtlFields(form, -2)).toEqual({
      form: 'value=a%20b+c&ttl=3&prevExist=true&refresh=true&ttl=5',
      shifted: 2,
    });
    expect(shiftTtlFields(form, 1).form).toBe('value=a%20b+c&ttl=6&prevExist=true&refresh=true&ttl=8');
  });

  it('reads names and values as Go decodes a form', () => {
    expect(shiftTtlFields('tt%6C=%35', -1)).toEqual({ form: 'tt%6C=4', shifted: 1 });
    expect(shiftTtlFields('ttl2=5&attl=5&value=ttl%3D5', -1).shifted).toBe(0);
  });

  it('leaves an empty ttl (remove the TTL), a non-number and bad encoding to etcd', () => {
    for (const form of ['ttl=', 'ttl', 'ttl=abc', 'ttl=-3', 'ttl=1.5', 'ttl=%zz', '']) {
      expect(shiftTtlFields(form, -2)).toEqual({ form, shifted: 0 });
    }
  });

  it('refuses a shift that would take a ttl below 1', () => {
    expect(shiftTtlFields('ttl=3', -2).form).toBe('ttl=1');
    expect(() => shiftTtlFields('ttl=2', -2)).toThrow(TtlBelowOneError);
    expect(() => shiftTtlFields('ttl=2', -2)).toThrow(/at least 3/);
  });
});
