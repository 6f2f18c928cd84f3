/**
 * The fake's profile bulk import jobs ("Bulk Import Profiles", "Get Bulk Import Profiles Job",
 * "Get Errors for Bulk Import Profiles Job"): request validation, jobs going queued → processing →
 * complete with `total_count` / `completed_count` / `failed_count`, and the import errors, paged by
 * cursor, listed newest first (not in request order), and published only some reads after the job
 * completes. Profiles with the same email in one job are merged into one, as an upsert does.
 */
import { randomUUID } from 'node:crypto';
import { readDocument, refuse, type FakeError, type FakeReply } from './klaviyo-fake-errors.ts';

type Attributes = Record<string, unknown>;
/** How the fake misreports a job's results (conformance `misreport`, plus payloads left out). */
export type Misreport = 'undercount' | 'stray-row' | 'null-payload';

export interface FakeJob {
  id: string;
  status: string;
  /** Profiles after merging duplicates. */
  profiles: Attributes[];
  listId: string | undefined;
  failures: Array<{ index: number; code: string; title: string; detail: string }>;
  misreport: Misreport | undefined;
  /** Reads of the import errors still to answer before the errors are published. */
  errorsLateBy: number;
}

export interface ImportRules {
  /** Rejected when the job is created (a pointer 4xx). */
  rejectOnSubmit: (profile: Attributes) => { field: string; detail: string } | undefined;
  /** Fails during the import (an import error). */
  failOnImport: (profile: Attributes) => { code: string; title: string; detail: string } | undefined;
  /** Known list ids; undefined: every list exists. */
  lists: string[] | undefined;
  maxPageSize: number;
  /** Reads of `/import-errors` after completion that still list nothing (results written late). */
  errorsLateBy: number;
  misreport: Misreport | undefined;
}

/** Klaviyo's caps per job: 10,000 profiles and 5 MB of request (read as 5,000,000 bytes, the stricter). */
export const MAX_PROFILES = 10_000;
export const MAX_BODY_BYTES = 5_000_000;

export function createImport(body: string, rules: ImportRules, jobs: Map<string, FakeJob>, base: string): FakeReply {
  if (Buffer.byteLength(body) > MAX_BODY_BYTES) return refuse(413, { code: 'request_too_large', detail: 'The payload is larger than 5MB' });
  const read = readDocument(body, 'profile-bulk-import-job');
  if ('refusal' in read) return read.refusal;
  const { doc } = read;
  const profiles = doc.data.attributes?.profiles?.data;
  if (!Array.isArray(profiles) || profiles.length === 0 || profiles.length > MAX_PROFILES) {
    return refuse(400, { code: 'invalid', detail: `Between 1 and ${MAX_PROFILES} profiles are required`, pointer: '/data/attributes/profiles/data' });
  }
  const listId: string | undefined = doc.data.relationships?.lists?.data?.[0]?.id;
  if (listId !== undefined && rules.lists && !rules.lists.includes(listId)) {
    return refuse(400, { code: 'invalid', detail: `List ${listId} does not exist`, pointer: '/data/relationships/lists/data/0/id' });
  }
  const rejects: FakeError[] = [];
  profiles.forEach((p: any, i: number) => {
    if (p?.type !== 'profile') rejects.push({ code: 'invalid', detail: 'Expected type profile', pointer: `/data/attributes/profiles/data/${i}/type` });
    if (typeof p?.attributes !== 'object' || p.attributes === null) {
      rejects.push({ code: 'invalid', detail: 'attributes is required', pointer: `/data/attributes/profiles/data/${i}/attributes` });
      return;
    }
    const reject = rules.rejectOnSubmit(p.attributes);
    if (reject) rejects.push({ code: 'invalid', detail: reject.detail, pointer: `/data/attributes/profiles/data/${i}/attributes/${reject.field}` });
  });
  if (rejects.length > 0) return refuse(400, ...rejects);
  const job: FakeJob = {
    id: randomUUID().replaceAll('-', '').slice(0, 26).toUpperCase(),
    status: 'queued',
    profiles: mergeDuplicates(profiles.map((p: any) => p.attributes as Attributes)),
    listId,
    failures: [],
    misreport: rules.misreport,
    errorsLateBy: rules.errorsLateBy,
  };
  job.profiles.forEach((p, index) => {
    const failure = rules.failOnImport(p);
    if (failure) job.failures.push({ index, ...failure });
  });
  jobs.set(job.id, job);
  return { status: 202, body: { data: jobResource(job, base) } };
}

/** Later profiles with an email already seen update the earlier one (an upsert within the job). */
function mergeDuplicates(profiles: Attributes[]): Attributes[] {
  const byEmail = new Map<string, Attributes>();
  const merged: Attributes[] = [];
  for (const profile of profiles) {
    const email = typeof profile.email === 'string' ? profile.email.toLowerCase() : undefined;
    const seen = email === undefined ? undefined : byEmail.get(email);
    if (seen) Object.assign(seen, profile);
    else {
      const copy = { ...profile };
      if (email !== undefined) byEmail.set(email, copy);
      merged.push(copy);
    }
  }
  return merged;
}

export function jobResource(job: FakeJob, base: string) {
  const total = job.profiles.length;
  const complete = job.status === 'complete';
  // An undercount reports one failure more than the listing shows; a stray row is counted too.
  const failed = complete ? job.failures.length + (job.misreport === 'undercount' || job.misreport === 'stray-row' ? 1 : 0) : 0;
  const done = complete ? Math.max(0, total - failed) : job.status === 'processing' ? Math.floor(total / 2) : 0;
  return {
    type: 'profile-bulk-import-job',
    id: job.id,
    attributes: { status: job.status, total_count: total, completed_count: done, failed_count: failed, created_at: new Date().toISOString() },
    links: { self: `${base}/api/profile-bulk-import-jobs/${job.id}` },
  };
}

export function finishJob(job: FakeJob): void {
  if (job.status === 'queued' || job.status === 'processing') job.status = 'complete';
}

/** One page of `…/{id}/import-errors`: `page[size]` (≤ maxPageSize) and an opaque `page[cursor]`. */
export function importErrorsPage(job: FakeJob, url: URL, rules: ImportRules, base: string): FakeReply {
  const size = Math.min(Number(url.searchParams.get('page[size]') ?? 20) || 20, rules.maxPageSize);
  const cursor = url.searchParams.get('page[cursor]');
  const offset = cursor === null ? 0 : Number(Buffer.from(cursor, 'base64url').toString());
  if (!Number.isInteger(offset) || offset < 0) return refuse(400, { code: 'invalid', detail: 'Invalid page cursor', parameter: 'page[cursor]' });
  let rows = job.status === 'complete' ? listedErrors(job) : [];
  if (job.status === 'complete' && cursor === null && job.errorsLateBy > 0) {
    job.errorsLateBy -= 1;
    rows = [];
  }
  const page = rows.slice(offset, offset + size);
  const link = (at: number) => `${base}${url.pathname}?page%5Bcursor%5D=${Buffer.from(String(at)).toString('base64url')}&page%5Bsize%5D=${size}`;
  return {
    status: 200,
    body: {
      data: page.map((row) => ({ type: 'import-error', id: randomUUID(), attributes: row })),
      links: { self: `${base}${url.pathname}${url.search}`, first: link(0), prev: offset > 0 ? link(Math.max(0, offset - size)) : null, next: offset + size < rows.length ? link(offset + size) : null },
    },
  };
}

/** The job's import errors as listed: newest first, with the misreport applied. */
function listedErrors(job: FakeJob) {
  const rows = job.failures.map((f) => ({
    code: f.code,
    title: f.title,
    detail: f.detail,
    source: { pointer: `/data/attributes/profiles/data/${f.index}` },
    original_payload: job.misreport === 'null-payload' ? null : { type: 'profile', attributes: job.profiles[f.index] },
  }));
  if (job.misreport === 'stray-row') {
    rows.push({ code: 'invalid', title: 'Invalid input.', detail: 'A profile this job never carried', source: { pointer: '/data/attributes/profiles/data/0' }, original_payload: { type: 'profile', attributes: { email: 'stray-row@nowhere.invalid' } } });
  }
  return rows.reverse();
}
