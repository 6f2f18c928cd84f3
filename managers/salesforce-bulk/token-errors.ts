/**
 * What a refused token request means. Salesforce answers the token endpoint's errors with HTTP 400
 * and `{"error": ..., "error_description": ...}` ("OAuth 2.0 Authorization Errors"); the pair names
 * the cause precisely, so each known pair becomes a config error on the field that fixes it rather
 * than a blanket "check clientSecret" (a wrong `loginUrl` is not a wrong secret).
 */
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { ConfigError, RetryableError, type RouterError } from '../../src/manager/errors.ts';
import { excerpt } from '../_http/request.ts';

interface KnownRefusal {
  readonly error: string;
  /** Matched against `error_description`, case-insensitively. */
  readonly description: RegExp;
  readonly field: string;
  readonly fix: string;
}

const KNOWN: readonly KnownRefusal[] = [
  // The client credentials flow is served only on the org's own My Domain.
  { error: 'invalid_grant', description: /not supported on this domain/i, field: 'loginUrl', fix: 'use your org\'s My Domain URL (https://<domain>.my.salesforce.com) for the client credentials flow' },
  { error: 'invalid_grant', description: /no client credentials user enabled/i, field: 'clientId', fix: 'choose a "Run As" user for the client credentials flow in the connected app\'s policies' },
  { error: 'invalid_grant', description: /audience/i, field: 'audience', fix: 'set "audience" to https://login.salesforce.com (production) or https://test.salesforce.com (sandbox)' },
  { error: 'invalid_grant', description: /hasn't approved|not approved|not admin approved/i, field: 'username', fix: 'pre-authorize the connected app for this user\'s profile or permission set' },
  { error: 'invalid_grant', description: /user is (locked|inactive)|inactive user/i, field: 'username', fix: 'the user is locked or inactive; unlock it or use another' },
  { error: 'invalid_grant', description: /expired|exp claim|issued at/i, field: 'privateKey', fix: 'the assertion was refused as expired: check this machine\'s clock' },
  { error: 'invalid_grant', description: /assertion|signature|certificate/i, field: 'privateKey', fix: 'the assertion\'s signature did not verify: upload the certificate of this key to the connected app' },
  { error: 'invalid_client_id', description: /./, field: 'clientId', fix: 'the consumer key is unknown to this org' },
  { error: 'invalid_client', description: /./, field: 'clientSecret', fix: 'the consumer secret does not match the consumer key' },
  { error: 'unsupported_grant_type', description: /./, field: 'clientId', fix: 'enable this OAuth flow in the connected app' },
  { error: 'inactive_user', description: /./, field: 'username', fix: 'the user is inactive' },
  { error: 'inactive_org', description: /./, field: 'loginUrl', fix: 'the org is locked, closed or suspended' },
];

/** The typed error for a token request Salesforce refused (HTTP 400/401). No secret is quoted. */
export function tokenRefusal(error: string, description: string, jwt: boolean, redact: (text: string) => string): RouterError {
  const detail = excerpt(`${error}: ${description}`, redact);
  const flow = jwt ? 'JWT bearer' : 'client credentials';
  // "ip/login rate exceeded": too many logins; it passes, it is no config fault.
  if (/rate/i.test(error) || /rate exceeded/i.test(description)) {
    return new RetryableError(`Salesforce refused the ${flow} token request for now (${detail})`, { code: ERROR_CODES.rateLimited, vendorCode: error || undefined });
  }
  const known = KNOWN.find((k) => k.error === error && k.description.test(description));
  const field = known?.field ?? (jwt ? 'privateKey' : 'clientSecret');
  const fix = known?.fix ?? `check "clientId" and "${field}"`;
  return new ConfigError(`Salesforce refused the ${flow} token request (${detail}); check "${field}": ${fix}`, { field, vendorCode: error || undefined });
}
