import { describe, expect, it } from 'vitest';
import {
  canonicalURLPath,
  cleanPath,
  encodeValues,
  escapePath,
  queryEscape,
} from '../../src/internal/path.js';

describe("Go's path rules", () => {
  it.each([
    ['', '.'],
    ['/', '/'],
    ['//foo//bar', '/foo/bar'],
    ['/a/./b', '/a/b'],
    ['/foo/../bar', '/bar'],
    ['/..', '/'],
    ['/../../etc', '/etc'],
    ['a/../..', '..'],
    ['/foo/', '/foo'],
  ])('path.Clean(%j) = %j', (input, output) => {
    expect(cleanPath(input)).toBe(output);
  });

  it.each([
    ['', '/'],
    ['/v2/keys', '/v2/keys'],
    ['/v2/keys/foo/', '/v2/keys/foo/'],
    ['/v2/keys/', '/v2/keys/'],
    ['/v2/keys/foo/../', '/v2/keys/'],
    ['/v2/keys/.', '/v2/keys'],
    ['v2/keys', '/v2/keys'],
  ])('CanonicalURLPath(%j) = %j', (input, output) => {
    expect(canonicalURLPath(input)).toBe(output);
  });

  it('escapes paths as Go does, unlike encodeURI and encodeURIComponent', () => {
    expect(escapePath('/gp/a b?c#d%e+f/日本')).toBe('/gp/a%20b%3Fc%23d%25e+f/%E6%97%A5%E6%9C%AC');
    expect(escapePath('$&+,/:;=@-_.~')).toBe('$&+,/:;=@-_.~');
    expect(escapePath(`!*'()"<>\\|^\`{}[]\t\nü`)).toBe(
      '%21%2A%27%28%29%22%3C%3E%5C%7C%5E%60%7B%7D%5B%5D%09%0A%C3%BC',
    );
    expect(escapePath('a%20b')).toBe('a%2520b');
  });

  it('query-escapes and sorts form values as url.Values.Encode does', () => {
    expect(queryEscape('a b/&=+%~')).toBe('a+b%2F%26%3D%2B%25~');
    expect(
      encodeValues([
        ['value', 'bar "q"\n'],
        ['ttl', '5'],
      ]),
    ).toBe('ttl=5&value=bar+%22q%22%0A');
  });
});
