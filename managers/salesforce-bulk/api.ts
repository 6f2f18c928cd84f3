/**
 * Talking to Salesforce: an access token from the configured login URL (client credentials or JWT
 * bearer flow), cached in the session with the `instance_url` it names, and one request helper for
 * the Bulk API 2.0 ingest resource that sends the token as `Authorization: Bearer`, gets a new one
 * once on 401 INVALID_SESSION_ID, and turns any other failure into the error errors.ts assigns.
 */
import { createSign } from 'node:crypto';
import type { CallContext } from '../../src/manager/contract.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { ConfigError, RetryableError } from '../../src/manager/errors.ts';
import { TOKEN_REFUSED, TokenCache } from '../_bulk-csv/token-cache.ts';
import { parseRetryAfter, secretRedactor } from '../_http/http.ts';
import { discard, excerpt, readJson, send, vendorText } from '../_http/request.ts';
import { jwtAudience, type SalesforceConfig } from './config.ts';
import { salesforceError, type SalesforceErrorContext } from './errors.ts';
import { tokenRefusal } from './token-errors.ts';

interface SalesforceToken {
  readonly accessToken: string;
  /** The org's API host, as the token response names it; every API call goes there. */
  readonly instanceUrl: string;
}

/** Per destination and process: the token. Nothing here is needed after a restart. */
export class SalesforceSession {
  readonly tokens: TokenCache<SalesforceToken>;
  constructor(readonly config: SalesforceConfig) {
    this.tokens = new TokenCache(() => requestToken(config));
  }
}

/** Every call of this manager gets its session typed (`defineManager<..., SalesforceSession>`). */
export type SalesforceContext = CallContext<SalesforceConfig, SalesforceSession>;

export function redactorFor(config: SalesforceConfig): (text: string) => string {
  return secretRedactor([config.clientSecret, config.privateKey]);
}

/** A JWT bearer assertion (RFC 7523) signed RS256 with the configured key, valid for 3 minutes as Salesforce requires. */
function jwtAssertion(config: SalesforceConfig): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  // `aud` names the authorization server (login vs test), which is not the token URL when that is a My Domain.
  const claims = { iss: config.clientId, sub: config.username, aud: jwtAudience(config), exp: Math.floor(Date.now() / 1000) + 180 };
  const unsigned = `${encode({ alg: 'RS256' })}.${encode(claims)}`;
  try {
    return `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(config.privateKey!, 'base64url')}`;
  } catch {
    throw new ConfigError('the JWT could not be signed with "privateKey"; it must be an RSA private key', { field: 'privateKey' });
  }
}

async function requestToken(config: SalesforceConfig): Promise<{ token: SalesforceToken }> {
  const jwt = config.privateKey !== undefined;
  const body = jwt
    ? new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jwtAssertion(config) })
    : new URLSearchParams({ grant_type: 'client_credentials', client_id: config.clientId, client_secret: config.clientSecret ?? '' });
  const redact = redactorFor(config);
  const response = await send({
    label: 'Salesforce token request',
    url: `${config.loginUrl}/services/oauth2/token`,
    init: { method: 'POST', body, headers: { accept: 'application/json' } },
    signal: AbortSignal.timeout(config.timeoutMs),
    timeoutMs: config.timeoutMs,
    redact,
  });
  const answer = (await readJson(response)) as Record<string, unknown> | undefined;
  if (response.status === 400 || response.status === 401) {
    throw tokenRefusal(vendorText(answer?.error), vendorText(answer?.error_description), jwt, redact);
  }
  if (response.status === 404) throw new ConfigError('Salesforce has no token endpoint at this address; check "loginUrl"', { field: 'loginUrl' });
  if (response.status !== 200 || typeof answer?.access_token !== 'string' || typeof answer.instance_url !== 'string') {
    throw new RetryableError(`Salesforce token request answered HTTP ${response.status} without a usable token`, {
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
    });
  }
  // Every API call goes to instance_url: one that is not an http(s) URL (empty, relative, another
  // scheme) would fail each of them with an untyped "Invalid URL".
  const instanceUrl = answer.instance_url.replace(/\/+$/, '');
  if (!URL.canParse(instanceUrl) || !/^https?:$/.test(new URL(instanceUrl).protocol)) {
    throw new RetryableError(`Salesforce token request answered instance_url "${excerpt(instanceUrl.slice(0, 100), redact)}", which is not an http(s) URL`, { code: ERROR_CODES.badVendorResponse });
  }
  // Salesforce tokens carry no lifetime: they live until the session times out, which a 401 tells us.
  return { token: { accessToken: answer.access_token, instanceUrl } };
}

export interface IngestRequest extends SalesforceErrorContext {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH';
  /** Path under `/services/data/vXX.X/jobs/ingest`, e.g. `/750.../batches`, query string included. */
  readonly path: string;
  readonly contentType?: string;
  /** Built per try, so a refused token can be followed by a resend with the same body. */
  readonly body?: () => Promise<BodyInit> | BodyInit;
  readonly accept?: string;
}

/** One ingest API call with token handling; resolves with a 2xx response, throws the typed error otherwise. */
export async function ingestCall(ctx: SalesforceContext, request: IngestRequest): Promise<Response> {
  const { config } = ctx;
  return ctx.session.tokens.use(ctx.signal, async (token, lastChance) => {
    // The token too: an error text that echoes it must not carry it into logs and job reasons.
    const redact = secretRedactor([config.clientSecret, config.privateKey, token.accessToken]);
    const headers: Record<string, string> = { authorization: `Bearer ${token.accessToken}`, accept: request.accept ?? 'application/json' };
    if (request.contentType) headers['content-type'] = request.contentType;
    const url = `${token.instanceUrl}/services/data/v${config.apiVersion}/jobs/ingest${request.path}`;
    const body = request.body ? { body: await request.body() } : {};
    const response = await send({ label: `Salesforce ${request.what}`, url, init: { method: request.method, headers, ...body }, signal: ctx.signal, timeoutMs: config.timeoutMs, redact });
    if (response.ok) return response;
    // INVALID_SESSION_ID: the session timed out or was revoked; one fresh token, then give up.
    if (response.status === 401 && !lastChance) {
      await discard(response);
      return TOKEN_REFUSED;
    }
    const errors = await readJson(response, 64 * 1024);
    const first: unknown = Array.isArray(errors) ? errors[0] : undefined;
    const { errorCode, message } = typeof first === 'object' && first !== null ? (first as { errorCode?: unknown; message?: unknown }) : {};
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    throw salesforceError(response.status, vendorText(errorCode), excerpt(vendorText(message), redact), request, retryAfterMs);
  });
}

/** An ingest job as Salesforce describes it (the fields we use). */
export interface IngestJob {
  id: string;
  state: string;
  numberRecordsProcessed: number;
  numberRecordsFailed: number;
  errorMessage: string;
}

export async function getJob(ctx: SalesforceContext, jobId: string): Promise<IngestJob> {
  const response = await ingestCall(ctx, { what: `checking ingest job ${jobId}`, method: 'GET', path: `/${encodeURIComponent(jobId)}` });
  const job = (await readJson(response)) as Record<string, unknown> | undefined;
  if (!job || typeof job.state !== 'string') throw new RetryableError(`Salesforce answered no state for ingest job ${jobId}`, { code: ERROR_CODES.badVendorResponse });
  const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  return {
    id: jobId,
    state: job.state,
    numberRecordsProcessed: count(job.numberRecordsProcessed),
    numberRecordsFailed: count(job.numberRecordsFailed),
    errorMessage: typeof job.errorMessage === 'string' ? job.errorMessage : '',
  };
}
