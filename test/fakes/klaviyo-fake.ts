/**
 * A fake of Klaviyo's Bulk Import Profiles API on 127.0.0.1, faithful where the manager depends
 * on it: `Authorization: Klaviyo-API-Key` and `revision` headers checked, JSON:API bodies, 10,000
 * profiles / 5 MB per request, request validation answered with JSON:API `errors[]` whose
 * `source.pointer` names the offending profile, jobs going queued → processing → complete,
 * per-profile failures listed (paged, `links.next`) under `/import-errors` with the profile as
 * `original_payload`. Answers can be scripted per route (429 + Retry-After, 5xx, any error).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorBody, type FakeError } from './klaviyo-fake-errors.ts';

export type KlaviyoRoute = 'create' | 'job' | 'errors';
export interface KlaviyoStep { status: number; retryAfter?: number | string; errors?: FakeError[] }
export interface KlaviyoRequest { method: string; path: string; headers: IncomingHttpHeaders; body: string; at: number }
type Attributes = Record<string, unknown>;
export interface FakeJob {
  id: string;
  status: string;
  profiles: Attributes[];
  listId: string | undefined;
  failures: Array<{ index: number; code: string; title: string; detail: string }>;
}

export interface KlaviyoFakeOptions {
  apiKey?: string;
  /** 'per-poll': each GET of a job moves it one step; 'manual': jobs stay queued until finishAll(). */
  progression?: 'per-poll' | 'manual';
  /** Rejected when the job is created (a pointer 4xx). Default: an email without "@" and a dot. */
  rejectOnSubmit?: (profile: Attributes) => { field: string; detail: string } | undefined;
  /** Fails during the import (an import error). Default: a phone number that is not E.164. */
  failOnImport?: (profile: Attributes) => { code: string; title: string; detail: string } | undefined;
  /** Largest page of import errors served; Klaviyo's is 100. */
  maxPageSize?: number;
  /** Known list ids; by default every list exists. */
  lists?: string[];
}

const badEmail = (p: Attributes) =>
  typeof p.email === 'string' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(p.email) ? { field: 'email', detail: `Invalid email address: ${p.email}` } : undefined;
const badPhone = (p: Attributes) =>
  typeof p.phone_number === 'string' && !/^\+[1-9]\d{6,14}$/.test(p.phone_number)
    ? { code: 'invalid_phone_number', title: 'Invalid phone number', detail: `Phone number ${p.phone_number} is not in E.164 format` }
    : undefined;

export async function startKlaviyoFake(options: KlaviyoFakeOptions = {}) {
  const apiKey = options.apiKey ?? 'pk_fake_0123456789abcdef';
  const jobs = new Map<string, FakeJob>();
  const scripts: Record<KlaviyoRoute, KlaviyoStep[]> = { create: [], job: [], errors: [] };
  const recorded: KlaviyoRequest[] = [];
  let base = '';

  function finish(job: FakeJob) {
    if (job.status === 'queued' || job.status === 'processing') job.status = 'complete';
  }

  function jobResource(job: FakeJob) {
    const total = job.profiles.length;
    const done = job.status === 'complete' ? total - job.failures.length : job.status === 'processing' ? Math.floor(total / 2) : 0;
    return {
      type: 'profile-bulk-import-job',
      id: job.id,
      attributes: { status: job.status, total_count: total, completed_count: done, failed_count: job.status === 'complete' ? job.failures.length : 0, created_at: new Date().toISOString() },
      links: { self: `${base}/api/profile-bulk-import-jobs/${job.id}` },
    };
  }

  function create(body: string, send: (status: number, payload: unknown) => void) {
    if (Buffer.byteLength(body) > 5 * 1024 * 1024) return send(413, errorBody(413, [{ code: 'request_too_large', detail: 'The payload is larger than 5MB' }]));
    let doc: any;
    try {
      doc = JSON.parse(body);
    } catch {
      return send(400, errorBody(400, [{ code: 'parse_error', detail: 'Malformed JSON', pointer: '/data' }]));
    }
    if (doc?.data?.type !== 'profile-bulk-import-job') return send(409, errorBody(409, [{ code: 'conflict', detail: 'Expected type profile-bulk-import-job', pointer: '/data/type' }]));
    const profiles = doc.data.attributes?.profiles?.data;
    if (!Array.isArray(profiles) || profiles.length === 0 || profiles.length > 10_000) {
      return send(400, errorBody(400, [{ code: 'invalid', detail: 'Between 1 and 10000 profiles are required', pointer: '/data/attributes/profiles/data' }]));
    }
    const listId: string | undefined = doc.data.relationships?.lists?.data?.[0]?.id;
    if (listId !== undefined && options.lists && !options.lists.includes(listId)) {
      return send(400, errorBody(400, [{ code: 'invalid', detail: `List ${listId} does not exist`, pointer: '/data/relationships/lists/data/0/id' }]));
    }
    const rejects: FakeError[] = [];
    profiles.forEach((p: any, i: number) => {
      const attributes = (p?.attributes ?? {}) as Attributes;
      if (p?.type !== 'profile') rejects.push({ code: 'invalid', detail: 'Expected type profile', pointer: `/data/attributes/profiles/data/${i}/type` });
      const reject = (options.rejectOnSubmit ?? badEmail)(attributes);
      if (reject) rejects.push({ code: 'invalid', detail: reject.detail, pointer: `/data/attributes/profiles/data/${i}/attributes/${reject.field}` });
    });
    if (rejects.length > 0) return send(400, errorBody(400, rejects));
    const job: FakeJob = { id: randomUUID().replaceAll('-', '').slice(0, 26).toUpperCase(), status: 'queued', profiles: profiles.map((p: any) => p.attributes), listId, failures: [] };
    job.profiles.forEach((p, index) => {
      const failure = (options.failOnImport ?? badPhone)(p);
      if (failure) job.failures.push({ index, ...failure });
    });
    jobs.set(job.id, job);
    send(202, { data: jobResource(job) });
  }

  function importErrors(job: FakeJob, url: URL, send: (status: number, payload: unknown) => void) {
    const size = Math.min(Number(url.searchParams.get('page[size]') ?? 20) || 20, options.maxPageSize ?? 100);
    const offset = Number(Buffer.from(url.searchParams.get('page[cursor]') ?? 'MA', 'base64url').toString()) || 0;
    const failures = job.status === 'complete' ? job.failures : [];
    const page = failures.slice(offset, offset + size);
    const link = (at: number) => `${base}${url.pathname}?page%5Bcursor%5D=${Buffer.from(String(at)).toString('base64url')}&page%5Bsize%5D=${size}`;
    send(200, {
      data: page.map((f) => ({
        type: 'import-error',
        id: randomUUID(),
        attributes: { code: f.code, title: f.title, detail: f.detail, source: { pointer: `/data/attributes/profiles/data/${f.index}` }, original_payload: job.profiles[f.index] },
      })),
      links: { self: `${base}${url.pathname}${url.search}`, first: link(0), prev: offset > 0 ? link(Math.max(0, offset - size)) : null, next: offset + size < failures.length ? link(offset + size) : null },
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', base);
    recorded.push({ method: req.method ?? '', path: `${url.pathname}${url.search}`, headers: req.headers, body, at: Date.now() });
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/vnd.api+json', ...headers });
      res.end(JSON.stringify(payload));
    };
    const match = /^\/api\/profile-bulk-import-jobs\/?(?:([^/]+)\/?(import-errors)?\/?)?$/.exec(url.pathname);
    const route: KlaviyoRoute | undefined = !match ? undefined : match[2] ? 'errors' : match[1] ? 'job' : 'create';
    if (!route || (route === 'create') !== (req.method === 'POST')) return send(405, errorBody(405, [{ code: 'method_not_allowed', detail: `${req.method} ${url.pathname} is not allowed` }]));
    if (req.headers.authorization !== `Klaviyo-API-Key ${apiKey}`) {
      return send(401, errorBody(401, [{ code: 'not_authenticated', detail: 'Incorrect authentication credentials.' }]));
    }
    if (!req.headers.revision) return send(400, errorBody(400, [{ code: 'invalid', detail: 'Missing revision header', parameter: 'revision' }]));
    const step = scripts[route].shift();
    if (step) {
      const headers: Record<string, string> = step.retryAfter !== undefined ? { 'retry-after': String(step.retryAfter) } : {};
      return send(step.status, errorBody(step.status, step.errors ?? [{ code: step.status === 429 ? 'throttled' : 'error', detail: `scripted ${step.status}` }]), headers);
    }
    if (route === 'create') {
      if (req.headers['content-type'] !== 'application/vnd.api+json') return send(415, errorBody(415, [{ code: 'unsupported_media_type', detail: 'Use application/vnd.api+json' }]));
      return create(body, send);
    }
    const job = jobs.get(decodeURIComponent(match![1]!));
    if (!job) return send(404, errorBody(404, [{ code: 'not_found', detail: `A profile-bulk-import-job with id ${match![1]} does not exist.` }]));
    if (route === 'errors') return importErrors(job, url, send);
    if (options.progression !== 'manual') {
      if (job.status === 'queued') job.status = 'processing';
      else finish(job);
    }
    send(200, { data: jobResource(job) });
  }

  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    apiKey,
    jobs,
    requests: () => [...recorded],
    requestCount: () => recorded.length,
    /** Queues answers for the next requests of `route`, in order. */
    script: (route: KlaviyoRoute, ...steps: KlaviyoStep[]) => void scripts[route].push(...steps),
    /** Moves every open job to complete (conformance `completeImports`). */
    finishAll: async () => jobs.forEach(finish),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export type KlaviyoFake = Awaited<ReturnType<typeof startKlaviyoFake>>;
