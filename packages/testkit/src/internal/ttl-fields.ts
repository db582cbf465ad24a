/**
 * Rewrites the `ttl` fields of a URL-encoded form (a query string or an `x-www-form-urlencoded` body), for the
 * clock-skew proxy. Only the fields named `ttl` whose value is a whole number change; every other byte stays
 * as it was, so the rest of the request reads exactly the same to etcd.
 */

/** A shifted `ttl` that would fall below 1 second: the proxy refuses the request rather than forward it. */
export class TtlBelowOneError extends RangeError {
  override name = 'TtlBelowOneError';
  constructor(
    /** The `ttl` the client sent, in seconds. */
    readonly ttl: number,
    /** The shift that was to be applied, in seconds. */
    readonly shiftSeconds: number,
  ) {
    super(
      `ttl=${ttl} shifted by ${shiftSeconds} s would be ${ttl + shiftSeconds} s, below 1 s: ` +
        `write with a ttl of at least ${1 - shiftSeconds} through this proxy`,
    );
  }
}

/** Go's form decoding of a name or value (`+` is a space), or `undefined` when it is not valid encoding. */
function decodeFormComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

/**
 * Adds `shiftSeconds` to every whole-number `ttl` field of `form` (fields split on `&`, as Go's
 * `url.ParseQuery` does). An empty `ttl` (which removes a TTL) and one that is not a number are left as they
 * are: etcd answers them as it would without the proxy.
 *
 * @returns the rewritten form and how many fields changed.
 * @throws {TtlBelowOneError} when a shifted `ttl` would be below 1.
 */
export function shiftTtlFields(form: string, shiftSeconds: number): { form: string; shifted: number } {
  let shifted = 0;
  const fields = form.split('&').map((field) => {
    const equals = field.indexOf('=');
    if (equals < 0 || decodeFormComponent(field.slice(0, equals)) !== 'ttl') return field;
    const value = decodeFormComponent(field.slice(equals + 1));
    if (value === undefined || !/^\d+$/.test(value)) return field;
    const ttl = Number(value);
    if (ttl + shiftSeconds < 1) throw new TtlBelowOneError(ttl, shiftSeconds);
    shifted++;
    return `${field.slice(0, equals)}=${ttl + shiftSeconds}`;
  });
  return { form: fields.join('&'), shifted };
}
