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
 * Parses an endpoint URL. Unlike Go, which accepts `localhost:2379` or `foo` and fails only at request time,
 * anything but an absolute http(s) URL is refused here with a TypeError.
 */
export function parseEndpoint(text: string): Endpoint {
  const match = SCHEME_AND_AUTHORITY.exec(text);
  const scheme = match?.[1]?.toLowerCase();
  if (!match || (scheme !== 'http' && scheme !== 'https')) {
    throw new TypeError(
      `parse ${JSON.stringify(text)}: endpoint must be an absolute http:// or https:// URL`,
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new TypeError(`parse ${JSON.stringify(text)}: invalid URL`, { cause: error });
  }
  const authority = match[2]!;
  const at = authority.lastIndexOf('@');
  const shown = at < 0 ? text : text.replace(authority, authority.slice(at + 1));
  return { url, text: shown, path: decodeURIComponent(match[3] ?? '') };
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
