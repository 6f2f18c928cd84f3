/**
 * Following a bulk import job: its status (`GET /api/profile-bulk-import-jobs/{id}`) and, once
 * complete with failures, its per-profile errors (`…/{id}/import-errors`, paged through
 * `links.next`). Errors are matched back to jobs by the identity key persisted with each job, so
 * this works in a process that never saw the upload.
 */
import type { CallContext, ImportedJob, JobOutcome, OpenImport, PollResult } from '../../src/manager/contract.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { sameOrigin } from '../_http/answer.ts';
import { JOBS_PATH, describeError, klaviyoFailure, klaviyoRequest, type KlaviyoError } from './api.ts';
import type { KlaviyoConfig } from './config.ts';
import { identityKeys } from './profile.ts';

/** Klaviyo's largest page of import errors. */
const PAGE_SIZE = 100;
/** 10,000 profiles at 100 per page is 100 pages; a longer chain means a link loop. */
const MAX_PAGES = 200;

interface JobAttributes {
  status?: unknown;
  total_count?: unknown;
  completed_count?: unknown;
  failed_count?: unknown;
}

export async function pollImport(open: OpenImport, ctx: CallContext<KlaviyoConfig>): Promise<PollResult> {
  const id = klaviyoJobId(open);
  if (!id) return { status: 'failed', retryable: false, reason: 'import handle has no Klaviyo job id; it was not created by klaviyo-bulk-import' };
  const response = await klaviyoRequest(ctx, 'GET', `${JOBS_PATH}/${encodeURIComponent(id)}`);
  if (response.status === 404) {
    // Re-importing is safe (an upsert), losing the profiles is not.
    return { status: 'failed', retryable: true, reason: `Klaviyo has no bulk import job ${id} (404; jobs expire); its profiles will be sent again` };
  }
  if (response.status < 200 || response.status >= 300) throw klaviyoFailure(response, `reading bulk import job ${id}`);
  const attributes = (response.body as { data?: { attributes?: JobAttributes } } | undefined)?.data?.attributes;
  if (typeof attributes?.status !== 'string') throw new RetryableError(`Klaviyo answered reading bulk import job ${id} without a job status`);
  const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  switch (attributes.status) {
    case 'queued':
    case 'processing': {
      const total = count(attributes.total_count);
      return total > 0 ? { status: 'in_progress', progress: Math.round((count(attributes.completed_count) / total) * 100) } : { status: 'in_progress' };
    }
    case 'complete':
      return { status: 'completed', hasRecordFailures: count(attributes.failed_count) > 0 };
    case 'cancelled':
      return { status: 'failed', retryable: true, reason: `Klaviyo cancelled bulk import job ${id}; its profiles will be sent again` };
    default:
      // Unknown is a failure, not a hang; retrying re-sends an upsert, which is harmless.
      return { status: 'failed', retryable: true, reason: `Klaviyo reported bulk import job ${id} as "${attributes.status}", a status this manager does not know; its profiles will be sent again` };
  }
}

/** Aborts the jobs whose profiles appear in the job's import errors; the rest succeeded. */
export async function importErrorOutcomes(
  open: OpenImport,
  jobs: readonly ImportedJob[],
  ctx: CallContext<KlaviyoConfig>,
): Promise<JobOutcome[]> {
  const id = klaviyoJobId(open);
  if (!id) throw new RetryableError('import handle has no Klaviyo job id; it was not created by klaviyo-bulk-import');
  const jobsByKey = new Map<string, string[]>();
  for (const job of jobs) if (job.correlationKey !== null) jobsByKey.set(job.correlationKey, [...(jobsByKey.get(job.correlationKey) ?? []), job.jobId]);

  const reasons = new Map<string, string[]>();
  let unmatched = 0;
  let url: string | undefined = `${JOBS_PATH}/${encodeURIComponent(id)}/import-errors?page%5Bsize%5D=${PAGE_SIZE}`;
  for (let page = 0; url !== undefined; page += 1) {
    if (page >= MAX_PAGES) throw new RetryableError(`Klaviyo's import errors of job ${id} ran past ${MAX_PAGES} pages; the links loop`);
    const response = await klaviyoRequest(ctx, 'GET', url);
    if (response.status < 200 || response.status >= 300) throw klaviyoFailure(response, `reading the import errors of bulk import job ${id}`);
    const body = response.body as { data?: unknown; links?: { next?: unknown } } | undefined;
    for (const item of Array.isArray(body?.data) ? body.data : []) {
      const attributes = (item as { attributes?: KlaviyoError & { original_payload?: unknown } }).attributes ?? {};
      // A duplicate identity in one import maps to every job that carried it: Klaviyo merged them.
      const matched = new Set(identityKeys(profileAttributes(attributes.original_payload)).flatMap((key) => jobsByKey.get(key) ?? []));
      if (matched.size === 0) unmatched += 1;
      for (const jobId of matched) reasons.set(jobId, [...(reasons.get(jobId) ?? []), describeError(attributes)]);
    }
    url = nextPage(body?.links?.next, ctx.config.baseUrl);
  }
  if (unmatched > 0) ctx.log.warn({ klaviyoJobId: id, unmatched }, 'Klaviyo import errors that match no job of the import (no identifier echoed); those jobs count as succeeded');
  return [...reasons].map(([jobId, texts]) => ({ jobId, kind: 'aborted', reason: `Klaviyo could not import the profile: ${[...new Set(texts)].join('; ')}` }));
}

function klaviyoJobId(open: OpenImport): string | undefined {
  const id = open.handle.klaviyoJobId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** `original_payload` is the profile as submitted: its attributes, or the whole resource. */
function profileAttributes(payload: unknown): unknown {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const inner = (payload as { attributes?: unknown }).attributes;
  return typeof inner === 'object' && inner !== null ? inner : payload;
}

/**
 * The next page's URL. The API key only ever goes to `baseUrl`: a link on another origin (Klaviyo
 * writing its public host while we talk to a proxy) keeps its path and query but not its host.
 */
function nextPage(next: unknown, baseUrl: string): string | undefined {
  if (typeof next !== 'string' || next === '' || !URL.canParse(next, baseUrl)) return undefined;
  const url = new URL(next, baseUrl);
  return sameOrigin(url.href, baseUrl) ? url.href : `${new URL(baseUrl).origin}${url.pathname}${url.search}`;
}
