/**
 * Validation of a user-supplied header map (`"headers": {"Authorization": "Bearer ${TOKEN}"}`).
 * Values are treated as secrets: no problem message ever quotes one.
 */

/** RFC 9110 token characters: anything else is not a header name fetch will send. */
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Tab, printable ASCII and Latin-1: what a header value can carry without fetch throwing. */
const headerValue = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Headers fetch or the transport owns; a user value would silently fight with them. */
export const TRANSPORT_HEADERS: readonly string[] = ['content-length', 'transfer-encoding', 'host', 'connection'];

/**
 * The problem with `value` as a header map, or undefined when it is sound. `managed` (lower
 * case) are headers the manager sets itself and refuses from users.
 */
export function headerMapProblem(value: unknown, managed: ReadonlySet<string>): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'must be an object of header names to string values';
  }
  for (const [name, inner] of Object.entries(value)) {
    if (!headerName.test(name)) return `has "${name}", which is not a valid HTTP header name`;
    if (managed.has(name.toLowerCase())) return `sets "${name}", which the manager sets itself; remove it`;
    if (typeof inner !== 'string') return `"${name}" must be a string`;
    // The value is deliberately not quoted: it is likely a credential.
    if (!headerValue.test(inner)) {
      return `"${name}" has a value with characters a header cannot carry (line breaks, control or non-Latin-1 characters); fix the value or its environment variable`;
    }
  }
  return undefined;
}
