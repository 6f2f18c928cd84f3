/**
 * Authentication and authorisation, run on every request before its body is read (so an
 * unauthenticated caller cannot make us parse 10 MB). Order: 401 without a valid bearer key,
 * 429 over the key's rate, 403 without the route's scope. Visibility of destinations is checked
 * later, per resource, and answers 404 so a key never learns what another tenant has.
 *
 * Without any key configured the API binds to loopback only and treats every caller as a local
 * administrator: that is the out-of-the-box `npm start` experience. As soon as one key exists (or
 * existed when the process started), every request needs one. While keyless, only a loopback `Host`
 * (and `Origin`, when sent) is served, so DNS rebinding cannot turn a web page into that administrator.
 *
 * Rate limits are per-key token buckets: each key may make `burst` requests at once and
 * `ratePerSecond` on average. They live in process memory: with several API processes each
 * enforces its own share, which bounds a runaway client without a database round trip per request.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, send } from './errors.ts';
import type { KeysStore, Scope } from './keys-store.ts';

export interface Principal {
  /** null for the local administrator of a key-less API. */
  readonly keyId: string | null;
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
  /** Destinations this caller may use; null means all. */
  readonly destinations: ReadonlySet<string> | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** Scope the route needs; 'public' routes need no key at all (health, OpenAPI). */
    scope?: Scope | 'public';
  }
}

const LOCAL_ADMIN: Principal = Object.freeze({ keyId: null, name: 'local (no API keys configured)', scopes: new Set<Scope>(['admin']), destinations: null });

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.has(scope) || principal.scopes.has('admin');
}

export function canSee(principal: Principal, destinationId: string): boolean {
  return principal.destinations === null || principal.destinations.has(destinationId);
}

/** The destinations a caller may see, as a list for SQL; undefined when unrestricted. */
export function visibleDestinations(principal: Principal): string[] | undefined {
  return principal.destinations === null ? undefined : [...principal.destinations];
}

/** Idempotency keys and rate buckets are per key; the key-less local caller has one of each. */
export function principalKey(principal: Principal): string {
  return principal.keyId ?? '';
}

/** `localhost`, 127.0.0.0/8 or ::1, with or without a port; what a DNS-rebinding page cannot send. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.toLowerCase().replace(/:\d+$/, '');
  return name === 'localhost' || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/**
 * Without keys every local caller is an administrator, so a web page whose name was re-pointed
 * at 127.0.0.1 (DNS rebinding) must not count as local: its requests carry its own name in
 * `Host` (421) and its origin in `Origin` (403). Only loopback names pass, and an `Origin` when sent.
 */
function rebindingProblem(request: FastifyRequest): ApiError | undefined {
  if (!isLoopbackHost(request.headers.host)) {
    return new ApiError(421, 'host_not_allowed', 'while no API key exists the API answers only to a loopback Host (localhost, 127.0.0.1, [::1]); '
      + 'create a key with "batch-router keys create" to serve other names');
  }
  const origin = request.headers.origin;
  if (origin === undefined) return undefined;
  let originHost: string | undefined;
  try {
    originHost = new URL(origin).host;
  } catch {
    originHost = undefined;
  }
  if (isLoopbackHost(originHost)) return undefined;
  return new ApiError(403, 'origin_not_allowed', 'while no API key exists the API accepts browser requests only from a loopback Origin; '
    + 'create a key with "batch-router keys create" to serve other origins');
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

export function installAuth(app: FastifyInstance, keys: KeysStore, limiter: RateLimiter, startedWithKeys: boolean): void {
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (request, reply) => {
    const scope = request.routeOptions.config?.scope;
    if (scope === 'public') return;
    const keyRequired = startedWithKeys || keys.active().length > 0;
    let principal = LOCAL_ADMIN;
    if (!keyRequired) {
      const problem = rebindingProblem(request);
      if (problem) return send(reply, request, problem);
    }
    if (keyRequired) {
      const presented = bearer(request);
      const record = presented ? keys.verify(presented) : undefined;
      if (!record) {
        const message = presented ? 'the API key is not valid (unknown or revoked)' : 'send an API key as "Authorization: Bearer <key>"';
        return send(reply, request, new ApiError(401, 'unauthorized', message, undefined, { 'WWW-Authenticate': 'Bearer' }));
      }
      principal = {
        keyId: record.id,
        name: record.name,
        scopes: new Set(record.scopes),
        destinations: record.destinations ? new Set(record.destinations) : null,
      };
    }
    request.principal = principal;
    const rate = limiter.take(principalKey(principal));
    if (!rate.allowed) {
      const retryAfter = String(rate.retryAfterSeconds);
      return send(reply, request, new ApiError(429, 'rate_limited', `too many requests for this API key; retry in ${retryAfter} s`, undefined, { 'Retry-After': retryAfter }));
    }
    if (scope && !hasScope(principal, scope)) {
      return send(reply, request, new ApiError(403, 'forbidden', `this API key lacks the "${scope}" scope`));
    }
  });
}
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.ratePerSecond > 0;
  }

  /** Takes one token for `key`; when none is left, says how many seconds until one is. */
  take(key: string): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    if (!this.enabled) return { allowed: true };
    const now = this.now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > 10_000) this.#prune(now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerSecond)) };
  }

  /** Forgets buckets that have refilled completely: they hold no information. */
  #prune(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond >= this.burst) this.#buckets.delete(key);
    }
  }
}
