import { describe, expect, it } from 'vitest';
import { isRFC3339 } from '../../src/internal/keys-response.js';

describe('isRFC3339 (an expiration as Go’s time.Parse takes it)', () => {
  it.each([
    '2026-11-30T05:07:37Z',
    '2026-11-30T05:07:37.123456789Z',
    '2024-02-29T23:59:59+05:30',
    '2000-02-29T00:00:00-23:59',
    '2026-12-31T23:59:59.1Z',
    '0001-01-01T00:00:00Z',
  ])('takes %s', (text) => {
    expect(isRFC3339(text)).toBe(true);
  });

  it.each([
    'soon',
    '',
    '2026-02-30T00:00:00Z', // no 30 February
    '2026-02-29T00:00:00Z', // 2026 is not a leap year
    '1900-02-29T00:00:00Z', // a century that is not a leap year
    '2026-13-01T00:00:00Z',
    '2026-00-01T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-01-00T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T00:60:00Z',
    '2026-01-01T00:00:60Z',
    '2026-01-01T00:00:00+24:00',
    '2026-01-01T00:00:00+05:60',
    '2026-01-01T00:00:00',
    '2026-01-01 00:00:00Z',
    '2026-01-01T00:00:00.Z',
    '2026-01-01T00:00:00z',
    '2026-1-01T00:00:00Z',
    ' 2026-01-01T00:00:00Z',
    '2026-01-01T00:00:00Z ',
  ])('refuses %j', (text) => {
    expect(isRFC3339(text)).toBe(false);
  });
});
