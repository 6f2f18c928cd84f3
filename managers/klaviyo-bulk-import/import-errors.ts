/**
 * Reading a bulk import job's per-profile errors (`GET …/{id}/import-errors`), every page, by
 * following `links.next` (Klaviyo's cursor pagination), and its totals (`GET …/{id}`).
 */
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { sameOrigin } from '../_http/answer.ts';
import { JOBS_PATH, klaviyoError, klaviyoFailure, klaviyoRequest, type KlaviyoError } from './api.ts';
import type { KlaviyoContext } from './api.ts';
import type { KlaviyoConfig } from './config.ts';

/** Klaviyo's largest page of import errors. */
const PAGE_SIZE = 100;
/** 10,000 profiles at 100 per page is 100 pages; a longer chain means a link loop. */
const MAX_PAGES = 200;

/** One import error's attributes; `original_payload` is the profile as submitted, or null. */
export type ImportError = KlaviyoError & { readonly original_payload?: unknown };

/**
 * A count of a job resource: a whole number from 0 up, or undefined when Klaviyo left it out or
 * sent something else (a negative, a fraction, a string): such a count proves nothing.
 */
export function jobCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** What Klaviyo counted for a job; a count it left out (or garbled) is undefined. */
export interface JobTotals {
  readonly status: string | undefined;
  readonly total: number | undefined;
  readonly completed: number | undefined;
  readonly failed: number | undefined;
}

export async function readJobTotals(id: string, ctx: KlaviyoContext): Promise<JobTotals> {
  const response = await klaviyoRequest(ctx, 'GET', `${JOBS_PATH}/${encodeURIComponent(id)}`);
  if (response.status < 200 || response.status >= 300) throw klaviyoFailure(response, `reading bulk import job ${id}`);
  const attributes = (response.body as { data?: { attributes?: Record<string, unknown> } } | undefined)?.data?.attributes ?? {};
  return {
    status: typeof attributes.status === 'string' ? attributes.status : undefined,
    total: jobCount(attributes.total_count),
    completed: jobCount(attributes.completed_count),
    failed: jobCount(attributes.failed_count),
  };
}

export async function readImportErrors(id: string, ctx: KlaviyoContext): Promise<ImportError[]> {
  const errors: ImportError[] = [];
  let url: string | undefined = `${JOBS_PATH}/${encodeURIComponent(id)}/import-errors?page%5Bsize%5D=${PAGE_SIZE}`;
  // A next link seen before would read the same pages again, up to MAX_PAGES requests paced by
  // the account's rate limit: a loop is caught at its first repeat.
  const visited = new Set<string>();
  for (let page = 0; url !== undefined; page += 1) {
    if (page >= MAX_PAGES || visited.has(url)) {
      throw new RetryableError(`Klaviyo's import errors of job ${id} ${visited.has(url) ? 'link back to a page already read' : `ran past ${MAX_PAGES} pages`}; the links loop`, { code: ERROR_CODES.badVendorResponse });
    }
    visited.add(url);
    const response = await klaviyoRequest(ctx, 'GET', url);
    if (response.status < 200 || response.status >= 300) throw klaviyoFailure(response, `reading the import errors of bulk import job ${id}`);
    const body = response.body as { data?: unknown; links?: { next?: unknown } } | undefined;
    for (const item of Array.isArray(body?.data) ? body.data : []) {
      // An item that is not an object (null, a number) still counts as a listed error, naming no profile.
      const attributes: unknown = typeof item === 'object' && item !== null ? (item as { attributes?: unknown }).attributes : undefined;
      errors.push(typeof attributes === 'object' && attributes !== null ? importError(attributes as Record<string, unknown>) : {});
    }
    url = nextPage(body?.links?.next, ctx.config.baseUrl);
  }
  return errors;
}

/** An import error's fields as text where text is expected; `original_payload` kept as sent. */
function importError(attributes: Record<string, unknown>): ImportError {
  return { ...klaviyoError(attributes), original_payload: attributes.original_payload };
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
