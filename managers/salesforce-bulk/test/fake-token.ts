/**
 * The fake's OAuth token endpoint (`POST /services/oauth2/token`), answering as Salesforce does:
 * HTTP 400 with `{error, error_description}` ("OAuth 2.0 Authorization Errors").
 * - client credentials: refused on the shared login hosts ("request not supported on this
 *   domain", the flow needs the org's My Domain), an unknown consumer key, a wrong secret;
 * - JWT bearer: RS256 signature checked against the certificate's key, `iss` = consumer key,
 *   `aud` = the authorization server (login vs test, not the token URL), `sub` = a known user,
 *   `exp` in the future.
 */
import { createVerify, type KeyObject } from 'node:crypto';
import type { TokenStore } from '../../../test/fakes/oauth-vendor.ts';
import type { Reply, RouteRequest } from '../../../test/fakes/vendor-server.ts';

export interface TokenEndpointOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  /** JWT bearer: the user the assertion may name and the certificate's public key. */
  readonly username?: string;
  readonly publicKey?: KeyObject | string;
  /** The `aud` this org accepts: https://login.salesforce.com (production) or https://test.salesforce.com (sandbox). */
  readonly audience: string;
  /** This fake plays login.salesforce.com / test.salesforce.com: client credentials are refused. */
  readonly sharedLoginHost: boolean;
  /** Where API calls go (the org's instance). */
  readonly instanceUrl: () => string;
}

const refuse = (error: string, description: string): Reply => ({ status: 400, json: { error, error_description: description } });

export function tokenReply(request: RouteRequest, options: TokenEndpointOptions, tokens: TokenStore): Reply {
  if (!/^application\/x-www-form-urlencoded/i.test(request.headers['content-type'] ?? '')) return refuse('invalid_request', 'unsupported content type');
  const form = new URLSearchParams(request.body.toString('utf8'));
  const grant = form.get('grant_type');
  if (grant === 'client_credentials') {
    if (options.sharedLoginHost) return refuse('invalid_grant', 'request not supported on this domain');
    if (form.get('client_id') !== options.clientId) return refuse('invalid_client_id', 'client identifier invalid');
    if (form.get('client_secret') !== options.clientSecret) return refuse('invalid_client', 'invalid client credentials');
  } else if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
    const problem = assertionProblem(form.get('assertion') ?? '', options);
    if (problem) return refuse('invalid_grant', problem);
  } else {
    return refuse('unsupported_grant_type', 'grant type not supported');
  }
  const accessToken = tokens.issue(2 * 3600 * 1000, '00Dfake!');
  return { status: 200, json: { access_token: accessToken, instance_url: options.instanceUrl(), token_type: 'Bearer', issued_at: String(Date.now()) } };
}

/** Why Salesforce would refuse this assertion, in its words; undefined when it is good. */
function assertionProblem(assertion: string, options: TokenEndpointOptions): string | undefined {
  const [header, claims, signature] = assertion.split('.');
  if (!header || !claims || !signature || !options.publicKey) return 'invalid assertion';
  if (!createVerify('RSA-SHA256').update(`${header}.${claims}`).verify(options.publicKey, signature, 'base64url')) return 'invalid assertion';
  const body = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as { iss?: string; sub?: string; aud?: string; exp?: number };
  if (body.iss !== options.clientId) return 'invalid_client_id';
  if (body.aud !== options.audience) return 'audience is invalid';
  if (body.sub !== options.username) return "user hasn't approved this consumer";
  if ((body.exp ?? 0) * 1000 <= Date.now()) return 'expired authorization code';
  return undefined;
}
