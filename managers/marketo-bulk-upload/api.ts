/**
 * Talking to Marketo: the access token (client credentials, cached in the session until shortly
 * before `expires_in`), a client-side rate limiter, and one request helper that sends the token as
 * `Authorization: Bearer`, refreshes it once on 601/602 and turns every other failure into the
 * typed error errors.ts assigns it. The client secret travels only in the token request's body.
 */
import type { Logger } from 'pino';
import type { CallContext } from '../../src/manager/contract.ts';
import { ConfigError, RetryableError } from '../../src/manager/errors.ts';
import { TOKEN_REFUSED, TokenCache } from '../_bulk-csv/token-cache.ts';
import { parseRetryAfter, readCapped, secretRedactor } from '../_http/http.ts';
import { discard, excerpt, isJson, readJson, send, vendorText } from '../_http/request.ts';
import { TokenBucket } from '../_http/token-bucket.ts';
import { bulkBase, type MarketoConfig } from './config.ts';
import { RATE_WINDOW_MS, TOKEN_CODES, marketoError, marketoHttpError } from './errors.ts';

/** Marketo's answer envelope for JSON endpoints. */
export interface MarketoEnvelope {
  readonly success?: boolean;
  readonly errors?: ReadonlyArray<{ code?: string | number; message?: string }>;
  readonly result?: ReadonlyArray<Record<string, unknown>>;
}

/**
 * Renew 15 s before the expiry: a request started with 15 s left reaches Marketo long before the
 * token lapses, and the pause while the old token is waited out (Marketo hands it back until it
 * expires, see token-cache.ts) stays short. A 602 all the same repeats the call with a new token.
 */
const TOKEN_RENEWAL_MARGIN_MS = 15_000;

/**
 * Per destination and process: the token, the rate limiter and the count of result re-reads per
 * import. Nothing here is needed after a restart (a restart only starts the re-read count over).
 */
export class MarketoSession {
  readonly tokens: TokenCache<string>;
  /** Import (batchId) → times its result files were found not to add up; bounded by `resultRereads`. */
  readonly rereads = new Map<string, number>();
  /**
   * 100 calls per sliding 20 s are allowed per account. A bucket of 50 refilled at 50 per 20 s
   * can never exceed 100 in any 20 s window, leaving room for other integrations on the account.
   */
  readonly limiter = new TokenBucket({ perMinute: 150, burst: 50 });

  constructor(readonly config: MarketoConfig) {
    this.tokens = new TokenCache(() => requestToken(config), Date.now, { renewWithinMs: TOKEN_RENEWAL_MARGIN_MS });
  }
}

export function createMarketoSession(config: MarketoConfig, _destinationId?: string, _log?: Logger): MarketoSession {
  return new MarketoSession(config);
}

/** The context of every Marketo call: the router passes the session createMarketoSession made. */
export type MarketoContext = CallContext<MarketoConfig, MarketoSession>;

/** Replaces the client secret wherever Marketo echoes it. */
export function redactorFor(config: MarketoConfig): (text: string) => string {
  return secretRedactor([config.clientSecret]);
}

async function requestToken(config: MarketoConfig): Promise<{ token: string; expiresInMs: number }> {
  const redact = redactorFor(config);
  // POST with a form body (Marketo accepts GET or POST): a secret in a query string ends up in
  // proxy and server access logs.
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: config.clientId, client_secret: config.clientSecret });
  const response = await send({
    label: 'Marketo token request',
    url: `${config.identityEndpoint}/oauth/token`,
    init: { method: 'POST', body, headers: { accept: 'application/json' } },
    signal: AbortSignal.timeout(config.timeoutMs),
    timeoutMs: config.timeoutMs,
    redact,
  });
  const answer = (await readJson(response)) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } | undefined;
  if (response.status === 401 || response.status === 400 || answer?.error === 'invalid_client' || answer?.error === 'unauthorized') {
    const detail = excerpt(`${vendorText(answer?.error)} ${vendorText(answer?.error_description)}`, redact);
    throw new ConfigError(`Marketo refused the client credentials (HTTP ${response.status}${detail ? `: ${detail}` : ''}); check "clientId" and "clientSecret"`, {
      field: 'clientSecret',
    });
  }
  if (response.status === 404) throw new ConfigError('Marketo has no token endpoint at this address; check "identityEndpoint"', { field: 'identityEndpoint' });
  if (response.status !== 200 || typeof answer?.access_token !== 'string') {
    throw marketoHttpError(response.status === 200 ? 502 : response.status, 'no access token in the answer', 'requesting an access token', parseRetryAfter(response.headers.get('retry-after')));
  }
  const seconds = typeof answer.expires_in === 'number' ? answer.expires_in : 3600;
  return { token: answer.access_token, expiresInMs: seconds * 1000 };
}

export interface MarketoRequest {
  /** For messages: "creating an import". */
  readonly what: string;
  readonly method: 'GET' | 'POST';
  /** Path under the bulk base, e.g. `/bulk/v1/leads.json?format=csv`. */
  readonly path: string;
  /** Built per try, so a refused token can be followed by a resend with the same body. */
  readonly body?: () => Promise<{ body: BodyInit; contentType: string }> | { body: BodyInit; contentType: string };
  /** A file endpoint: a non-JSON 200 answer is the file, returned unread for streaming; a 404 means there is no file (yet). */
  readonly file?: boolean;
  /** The config field a 1013 "Object not found" points at, when the call named one. */
  readonly objectField?: string;
}

export type MarketoAnswer = { kind: 'json'; envelope: MarketoEnvelope } | { kind: 'file'; response: Response } | { kind: 'missing' };

/** One Bulk API call with token handling; throws the typed error for any failure. */
export async function marketoCall(ctx: MarketoContext, request: MarketoRequest): Promise<MarketoAnswer> {
  const { config, session } = ctx;
  return session.tokens.use(ctx.signal, async (token, lastChance) => {
    // The token too: an error text that echoes it must not carry it into logs and job reasons.
    const redact = secretRedactor([config.clientSecret, token]);
    await session.limiter.take(ctx.signal);
    const payload = request.body ? await request.body() : undefined;
    const response = await send({
      label: `Marketo ${request.what}`,
      url: `${bulkBase(config)}${request.path}`,
      init: {
        method: request.method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: request.file ? 'text/csv, application/json' : 'application/json',
          ...(payload ? { 'content-type': payload.contentType } : {}),
        },
        ...(payload ? { body: payload.body } : {}),
      },
      signal: ctx.signal,
      timeoutMs: config.timeoutMs,
      redact,
    });
    if (response.status === 401 && !lastChance) {
      await discard(response);
      return TOKEN_REFUSED;
    }
    if (request.file && response.status === 404) {
      await discard(response);
      return { kind: 'missing' } as const;
    }
    if (response.status < 200 || response.status >= 300) {
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      throw marketoHttpError(response.status, excerpt(await readCapped(response, 2000), redact), request.what, retryAfterMs);
    }
    if (request.file && !isJson(response)) return { kind: 'file', response } as const;
    const envelope = (await readJson(response)) as MarketoEnvelope | undefined;
    if (!envelope || typeof envelope !== 'object') throw new RetryableError(`Marketo answered ${request.what} with something that is not JSON`);
    if (envelope.success !== false) return { kind: 'json', envelope } as const;
    const first: unknown = Array.isArray(envelope.errors) ? envelope.errors[0] : undefined;
    const { code: rawCode, message } = typeof first === 'object' && first !== null ? (first as { code?: unknown; message?: unknown }) : {};
    const code = vendorText(rawCode) || 'none';
    if (TOKEN_CODES.has(code) && !lastChance) return TOKEN_REFUSED;
    if (code === '606') session.limiter.holdFor(RATE_WINDOW_MS);
    throw marketoError(code, excerpt(vendorText(message), redact), {
      what: request.what,
      queueFullRetryMs: config.queueFullRetryMs,
      ...(request.objectField ? { objectField: request.objectField } : {}),
    });
  });
}
