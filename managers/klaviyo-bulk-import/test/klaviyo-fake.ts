/**
 * A fake of Klaviyo's bulk profile APIs on 127.0.0.1, as strict as Klaviyo where the manager
 * depends on it. What it enforces, and the documentation it comes from:
 *
 * | Enforces | Klaviyo documentation |
 * |---|---|
 * | `Authorization: Klaviyo-API-Key <private key>`, else 401 `not_authenticated` | API overview: authentication |
 * | `revision` header required and a released revision (400, `source.parameter: revision`); a retired one answers 410 | API versioning and deprecation policy |
 * | `Content-Type: application/vnd.api+json` on a body, else 415 | JSON:API feature guides |
 * | JSON:API bodies: `data.type`, `data.attributes.profiles.data[].type/attributes`; errors as `{errors:[{id,status,code,title,detail,source}]}` | Bulk Import Profiles; Rate limits, status codes, and errors |
 * | 1–10,000 profiles and 5 MB (5,000,000 bytes) per job, else 400 / 413 | Bulk Import Profiles |
 * | Per-account fixed windows, burst 10/s and steady 150/m by default: 429 + `Retry-After`; `RateLimit-Limit/-Remaining/-Reset` on other answers | Rate limits, status codes, and errors |
 * | Jobs queued → processing → complete with `total_count`, `completed_count`, `failed_count` | Get Bulk Import Profiles Job |
 * | Import errors paged by `page[cursor]` / `links.next` (≤ 100 per page), newest first, published late | Get Errors for Bulk Import Profiles Job |
 * | Duplicate emails in one job merged into one profile | Bulk Import Profiles (an upsert) |
 * | Bulk subscribe: 1–1,000 profiles, consent "SUBSCRIBED", email/E.164 phone per channel, `consented_at` only and always with `historical_import`, 202 with no body | Bulk Subscribe Profiles |
 *
 * Tests can also script answers per route (429, 5xx, any error) and make a job's results
 * inconsistent (`misreport`), as a vendor can be while its results are written or when broken.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorBody, refuse, type FakeError, type FakeReply } from './klaviyo-fake-errors.ts';
import { createImport, finishJob, importErrorsPage, jobResource, MAX_PROFILES, type FakeJob, type ImportRules, type Misreport } from './klaviyo-fake-imports.ts';
import { createSubscriptions, type Subscription } from './klaviyo-fake-subscriptions.ts';
import { AccountLimiter, DOCUMENTED_LIMITS, type RateLimits } from './klaviyo-fake-limits.ts';
import { checkProtocol, DEFAULT_RETIRED_BEFORE, MEDIA_TYPE } from './klaviyo-fake-protocol.ts';

export type KlaviyoRoute = 'create' | 'job' | 'errors' | 'subscribe';
export interface KlaviyoStep { status: number; retryAfter?: number | string; errors?: FakeError[] }
export interface KlaviyoRequest { method: string; path: string; headers: IncomingHttpHeaders; body: string; at: number; status: number }
export type { FakeJob, Misreport };
type Attributes = Record<string, unknown>;

export interface KlaviyoFakeOptions {
  apiKey?: string;
  /** 'per-poll': each GET of a job moves it one step; 'manual': jobs stay queued until finishAll(). */
  progression?: 'per-poll' | 'manual';
  /** Rejected when the job is created (a pointer 4xx). Default: an email without "@" and a dot. */
  rejectOnSubmit?: ImportRules['rejectOnSubmit'];
  /** Fails during the import (an import error). Default: a phone number that is not E.164. */
  failOnImport?: ImportRules['failOnImport'];
  /** Largest page of import errors served; Klaviyo's is 100. */
  maxPageSize?: number;
  /** Known list ids; by default every list exists. */
  lists?: string[];
  /** Per-account limits; default Klaviyo's documented 10/s burst, 150/m steady. */
  rateLimits?: RateLimits;
  /** Revisions released before this date answer 410; default: 2022–2024 are retired. */
  retiredBefore?: string;
  /** Reads of a completed job's import errors that still list nothing; default 1 (results come late). */
  errorsLateBy?: number;
}

const badEmail = (p: Attributes) =>
  typeof p.email === 'string' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(p.email) ? { field: 'email', detail: `Invalid email address: ${p.email}` } : undefined;
const badPhone = (p: Attributes) =>
  typeof p.phone_number === 'string' && !/^\+[1-9]\d{6,14}$/.test(p.phone_number)
    ? { code: 'invalid_phone_number', title: 'Invalid phone number', detail: `Phone number ${p.phone_number} is not in E.164 format` }
    : undefined;

const ROUTE = /^\/api\/profile-bulk-import-jobs\/?(?:([^/]+)\/?(import-errors)?\/?)?$/;
const SUBSCRIBE_ROUTE = /^\/api\/profile-subscription-bulk-create-jobs\/?$/;

export async function startKlaviyoFake(options: KlaviyoFakeOptions = {}) {
  const apiKey = options.apiKey ?? 'pk_fake_0123456789abcdef';
  const jobs = new Map<string, FakeJob>();
  const scripts: Record<KlaviyoRoute, KlaviyoStep[]> = { create: [], job: [], errors: [], subscribe: [] };
  const subscriptions: Subscription[] = [];
  const recorded: KlaviyoRequest[] = [];
  const limiter = new AccountLimiter(options.rateLimits ?? DOCUMENTED_LIMITS);
  const rules: ImportRules = {
    rejectOnSubmit: options.rejectOnSubmit ?? badEmail,
    failOnImport: options.failOnImport ?? badPhone,
    lists: options.lists,
    maxPageSize: options.maxPageSize ?? 100,
    errorsLateBy: options.errorsLateBy ?? 1,
    misreport: undefined,
  };
  let base = '';

  function route(method: string, url: URL, headers: IncomingHttpHeaders, body: string): FakeReply {
    const match = ROUTE.exec(url.pathname);
    const name: KlaviyoRoute | undefined = SUBSCRIBE_ROUTE.test(url.pathname) ? 'subscribe' : !match ? undefined : match[2] ? 'errors' : match[1] ? 'job' : 'create';
    if (!name) return refuse(404, { code: 'not_found', detail: `${url.pathname} is not an API endpoint` });
    if ((name === 'create' || name === 'subscribe') !== (method === 'POST')) return refuse(405, { code: 'method_not_allowed', detail: `${method} ${url.pathname} is not allowed` });
    const protocol = checkProtocol(method, headers, { apiKey, retiredBefore: options.retiredBefore ?? DEFAULT_RETIRED_BEFORE });
    if (protocol) return protocol;
    const step = scripts[name].shift();
    if (step) {
      const extra: Record<string, string> = step.retryAfter !== undefined ? { 'retry-after': String(step.retryAfter) } : {};
      return { status: step.status, body: errorBody(step.status, step.errors ?? [{ code: step.status === 429 ? 'throttled' : 'error', detail: `scripted ${step.status}` }]), headers: extra };
    }
    if (name === 'create') return createImport(body, rules, jobs, base);
    if (name === 'subscribe') return createSubscriptions(body, rules.lists, subscriptions);
    const job = jobs.get(decodeURIComponent(match![1]!));
    if (!job) return refuse(404, { code: 'not_found', detail: `A profile-bulk-import-job with id ${match![1]} does not exist.` });
    if (name === 'errors') return importErrorsPage(job, url, rules, base);
    if (options.progression !== 'manual') {
      if (job.status === 'queued') job.status = 'processing';
      else finishJob(job);
    }
    return { status: 200, body: { data: jobResource(job, base) } };
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', base);
    const method = req.method ?? '';
    const record: KlaviyoRequest = { method, path: `${url.pathname}${url.search}`, headers: req.headers, body, at: Date.now(), status: 0 };
    recorded.push(record);
    // Throttling is per account: an unauthenticated request counts against no one.
    const admitted = req.headers.authorization === `Klaviyo-API-Key ${apiKey}` ? limiter.admit(apiKey) : { throttled: false, headers: {} };
    const reply = admitted.throttled
      ? { ...refuse(429, { code: 'throttled', detail: 'Request was throttled. Expected available in 1 second.' }), headers: admitted.headers }
      : route(method, url, req.headers, body);
    record.status = reply.status;
    const payload = reply.body === undefined ? '' : JSON.stringify(reply.body);
    res.writeHead(reply.status, { ...(payload ? { 'content-type': MEDIA_TYPE } : {}), ...(admitted.throttled ? {} : admitted.headers), ...(reply.headers ?? {}) });
    res.end(payload);
  }

  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    apiKey,
    jobs,
    /** Profiles subscribed (subscribe mode), in the order Klaviyo accepted them. */
    subscriptions,
    maxProfiles: MAX_PROFILES,
    requests: () => [...recorded],
    requestCount: () => recorded.length,
    /** Answers Klaviyo throttled (429) so far. */
    throttled: () => limiter.throttled,
    /** Changes the per-account limits from now on. */
    setRateLimits: (limits: RateLimits) => void (limiter.limits = limits),
    /** Queues answers for the next requests of `route`, in order. */
    script: (route: KlaviyoRoute, ...steps: KlaviyoStep[]) => void scripts[route].push(...steps),
    /** Makes the results of jobs created from now on inconsistent (undefined: truthful again). */
    misreport: async (mode: Misreport | undefined) => void (rules.misreport = mode),
    /** Moves every open job to complete (conformance `completeImports`). */
    finishAll: async () => jobs.forEach(finishJob),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export type KlaviyoFake = Awaited<ReturnType<typeof startKlaviyoFake>>;
