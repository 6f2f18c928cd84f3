/**
 * Showing a connection string without its password. Only a plain `scheme://[user[:password]@]host…`
 * with no other "@" is shown: in anything odder the password can sit where the URL parser does not
 * see one (`postgres:/u:pw@h` has no authority, `postgres://u:12/pw@h` reads "12" as a port), so
 * such a string is not shown at all.
 */

/** Query parameters that may carry a secret (libpq's `password`, `sslpassword`, tokens, keys). */
const SECRET_PARAM = /pass|secret|key|token/i;

/**
 * `raw` with the userinfo password and secret-looking query parameters replaced by `mask` (an
 * empty mask removes the password), or undefined when `raw` is not plainly shaped.
 */
export function maskConnectionUrl(raw: string, mask: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  const ats = raw.split('@').length - 1;
  if (!url.host || !raw.toLowerCase().startsWith(`${url.protocol}//`) || ats > (url.username || url.password ? 1 : 0)) return undefined;
  if (url.password) url.password = mask;
  for (const name of [...url.searchParams.keys()]) {
    if (!SECRET_PARAM.test(name)) continue;
    if (mask) url.searchParams.set(name, mask);
    else url.searchParams.delete(name);
  }
  return url.toString();
}
