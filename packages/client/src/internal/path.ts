/**
 * Go's path and URL encoding rules, as the Go client applies them (`path.Clean`, `CanonicalURLPath`,
 * `url.URL.EscapedPath`, `url.QueryEscape`, `url.Values.Encode`).
 */

/** A rooted path with no empty, `.` or `..` segment and no trailing slash: `path.Clean` leaves it as is. */
const ALREADY_CLEAN = /^(?:\/(?!\.\.?(?:\/|$))[^/]+)+$/;

/** Go `path.Clean`: collapses `//`, resolves `.` and `..`, drops a trailing slash; `''` becomes `.`. */
export function cleanPath(path: string): string {
  if (path === '') return '.';
  if (ALREADY_CLEAN.test(path)) return path;
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** etcd's `CanonicalURLPath`: rooted, cleaned, with the trailing slash kept if the input had one. */
export function canonicalURLPath(path: string): string {
  if (path === '') return '/';
  const rooted = path.startsWith('/') ? path : `/${path}`;
  const cleaned = cleanPath(rooted);
  return rooted.endsWith('/') && cleaned !== '/' ? `${cleaned}/` : cleaned;
}

/** Go `path.Join` of rooted parts: joined with `/` and cleaned. */
export function joinPath(...parts: string[]): string {
  return cleanPath(parts.filter((part) => part !== '').join('/'));
}

const UNRESERVED = /[A-Za-z0-9\-_.~]/;
const PATH_LITERAL = /[A-Za-z0-9\-_.~$&+,/:;=@]/;
const ALL_UNRESERVED = /^[A-Za-z0-9\-_.~]*$/;
const ALL_PATH_LITERAL = /^[A-Za-z0-9\-_.~$&+,/:;=@]*$/;

function escapeWith(text: string, literal: RegExp, spaceAsPlus: boolean): string {
  if ((literal === UNRESERVED ? ALL_UNRESERVED : ALL_PATH_LITERAL).test(text)) return text;
  let out = '';
  for (const char of text) {
    if (literal.test(char)) out += char;
    else if (spaceAsPlus && char === ' ') out += '+';
    else
      for (const byte of Buffer.from(char, 'utf8'))
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Go's path escaping (`encodePath`): `A-Z a-z 0-9 - _ . ~ $ & + , / : ; = @` stay, every other byte of the
 * UTF-8 form becomes `%XX`. Neither `encodeURI` nor `encodeURIComponent` does this.
 */
export function escapePath(path: string): string {
  return escapeWith(path, PATH_LITERAL, false);
}

/** Go `url.QueryEscape`: space becomes `+`, everything but `A-Z a-z 0-9 - _ . ~` becomes `%XX`. */
export function queryEscape(text: string): string {
  return escapeWith(text, UNRESERVED, true);
}

/** Go `url.Values.Encode`: keys sorted, each key and value query-escaped. */
export function encodeValues(values: readonly [string, string][]): string {
  let sorted = true;
  for (let i = 1; i < values.length && sorted; i++) sorted = values[i - 1]![0] <= values[i]![0];
  const ordered = sorted ? values : [...values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let out = '';
  for (const [key, value] of ordered) out += `${out ? '&' : ''}${queryEscape(key)}=${queryEscape(value)}`;
  return out;
}

/** Parses a query string the way Go's `url.ParseQuery` does (`+` is a space), keeping order. */
export function parseQuery(query: string): [string, string][] {
  if (query === '') return [];
  return query.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const decode = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '));
    return eq < 0 ? [decode(pair), ''] : [decode(pair.slice(0, eq)), decode(pair.slice(eq + 1))];
  });
}
