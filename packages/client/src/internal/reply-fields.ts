/**
 * Typed reads of the JSON replies of the members, auth and version APIs, as Go's `encoding/json` decodes them
 * into its structs: field names matched case-insensitively, absent and null fields are Go's zero values, and a
 * value of another JSON type is refused (Go: an `UnmarshalTypeError`) with an {@link InvalidValueError} that
 * names the field.
 */
import { INVALID_JSON_MESSAGE, InvalidValueError } from '../errors.js';

/** A JSON object's field, matched case-insensitively as Go's encoding/json does (exact match first). */
export function fieldOf(raw: unknown, name: string): unknown {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const record = raw as Record<string, unknown>;
  if (name in record) return record[name];
  const lower = name.toLowerCase();
  const key = Object.keys(record).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : record[key];
}

/** A value for an error message (a string as is, anything else as JSON), cut to 64 characters. */
export function shorten(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return text.length > 64 ? `${text.slice(0, 64)}...` : text;
}

/** The error for a reply value at `field` that is not `what` Go's decoding takes there. */
export function invalidValue(field: string, value: unknown, what: string): InvalidValueError {
  return new InvalidValueError(field, `${INVALID_JSON_MESSAGE}: ${field} ${shorten(value)} is not ${what}`);
}

/** The error for a reply value of the wrong JSON type at `field` (shown as JSON: `"5"` is not `5`). */
export function mistyped(field: string, value: unknown, expected: string): InvalidValueError {
  return invalidValue(field, JSON.stringify(value) ?? String(value), expected);
}

/**
 * `raw` (at `where`, '' for the body) as an object to read fields of: null (or an absent field) is Go's zero
 * value; another type is refused.
 */
export function objectAt(raw: unknown, where: string): Record<string, unknown> | null {
  if (raw === undefined) return null; // an absent field
  if (typeof raw !== 'object' || Array.isArray(raw)) throw mistyped(where || 'body', raw, 'an object');
  return raw as Record<string, unknown> | null;
}

/** Where field `name` of a value at `where` is; a field of the body itself is named alone. */
function pathOf(where: string, name: string): string {
  return where === '' ? name : `${where}.${name}`;
}

/** A string field of `raw` (at `where`, '' for the body): absent or null is ''. */
export function textField(raw: unknown, name: string, where: string): string {
  const value = fieldOf(raw, name) ?? '';
  if (typeof value !== 'string') throw mistyped(pathOf(where, name), value, 'a string');
  return value;
}

/** A list field of `raw` (at `where`, '' for the body), each item read by `item`: absent or null is []. */
export function listField<T>(
  raw: unknown,
  name: string,
  where: string,
  item: (value: unknown, at: string) => T,
): T[] {
  const value = fieldOf(raw, name) ?? [];
  const at = pathOf(where, name);
  if (!Array.isArray(value)) throw mistyped(at, value, 'a list');
  return value.map((entry) => item(entry, `${at}[]`));
}

/** A list item that must be a string. */
export function text(value: unknown, at: string): string {
  if (typeof value !== 'string') throw mistyped(at, value, 'a string');
  return value;
}

/**
 * A list item that names something: a string, or an object (null: the zero value) whose `field` is the name
 * (auth lists: `{"role":"r",...}` or `"r"`).
 */
export function nameOrField(field: string): (value: unknown, at: string) => string {
  return (value, at) => (typeof value === 'string' ? value : textField(objectAt(value, at), field, at));
}
