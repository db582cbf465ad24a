/** One parsed endpoint. */
export interface Endpoint {
  /** The parsed URL (for origin and query). */
  readonly url: URL;
  /** Go's `url.String()`: the endpoint as given, with any userinfo removed (it is never sent nor printed). */
  readonly text: string;
  /** Go's `ep.Path`: the decoded path, `''` when the endpoint has none. */
  readonly path: string;
}

const SCHEME_AND_AUTHORITY = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/;

/**
 * `text` with everything between the scheme's `//` (or the start) and the last `@` replaced by `***`, for
 * error messages about a URL that may carry credentials. It also covers malformed URLs (`htp://u:p@h:1`,
 * a password with `/` or `#` in it), where a URL parser cannot say where the userinfo ends.
 */
export function redactUserinfo(text: string): string {
  const at = text.lastIndexOf('@');
  if (at < 0) return text;
  const slashes = text.indexOf('//');
  const start = slashes >= 0 && slashes < at ? slashes + 2 : 0;
  return `${text.slice(0, start)}***${text.slice(at)}`;
}

/**
 * Parses an endpoint URL. Unlike Go, which accepts `localhost:2379` or `foo` and fails only at request time,
 * anything but an absolute http(s) URL is refused here with a TypeError. The error never carries the
 * endpoint's credentials (its message shows the userinfo as `***`, and it has no cause: Node's URL error
 * keeps the whole input).
 */
export function parseEndpoint(text: string): Endpoint {
  const match = SCHEME_AND_AUTHORITY.exec(text);
  const scheme = match?.[1]?.toLowerCase();
  if (!match || (scheme !== 'http' && scheme !== 'https')) {
    throw new TypeError(
      `parse ${JSON.stringify(redactUserinfo(text))}: endpoint must be an absolute http:// or https:// URL`,
    );
  }
  // An '@' after the authority is most often a password with an unescaped '/', '?' or '#' (`http://u:1234/x@h`
  // parses as host `u`, port 1234): refused, or the password would be shown as part of the endpoint.
  if (text.slice(match[0].length - match[3]!.length).includes('@')) {
    throw new TypeError(
      `parse ${JSON.stringify(redactUserinfo(text))}: '@' after the host (escape it as %40 in a path or query, and a '/', '?' or '#' in a password as %2F, %3F, %23)`,
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`parse ${JSON.stringify(redactUserinfo(text))}: invalid URL`);
  }
  // Userinfo is never sent (credentials go in the Authorization header): keep it out of the parsed URL.
  url.username = '';
  url.password = '';
  const authority = match[2]!;
  const at = authority.lastIndexOf('@');
  const shown = at < 0 ? text : text.replace(authority, authority.slice(at + 1));
  let path: string;
  try {
    path = decodeURIComponent(match[3] ?? '');
  } catch {
    throw new TypeError(`parse ${JSON.stringify(redactUserinfo(text))}: invalid escape in path`);
  }
  return { url, text: shown, path };
}

/** A shuffled copy (Fisher-Yates), as Go shuffles endpoints on `SetEndpoints`. */
export function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
