/**
 * Reading the three result sets of a finished ingest job and matching every row to a job:
 * `successfulResults/` (`sf__Id`, `sf__Created`, the columns sent), `failedResults/` (`sf__Id`,
 * `sf__Error`, the columns sent) and `unprocessedrecords/` (the columns sent). Salesforce does not
 * keep the upload's order, so rows are matched by the correlation key of their cells. Each set is
 * streamed; should Salesforce page it (an `Sforce-Locator` header, as its query results do), the
 * pages are followed.
 */
import type { ImportedJob } from '../../src/manager/contract.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { JobMatcher, resultRows } from '../_bulk-csv/result-file.ts';
import { ingestCall, type SalesforceContext } from './api.ts';
import type { SalesforceHandle } from './upload.ts';

export type Evidence =
  | { readonly kind: 'success' }
  | { readonly kind: 'failed'; readonly error: string }
  | { readonly kind: 'unprocessed' };

/** One read of all three sets. */
export interface Reading {
  /** Evidence per job id; a job missing here has no row of its own. */
  readonly evidence: Map<string, Evidence>;
  /** Rows listed per set, matched or not. */
  readonly listed: { success: number; failed: number; unprocessed: number };
  /** Rows per set that matched no job of the import. */
  readonly strays: { success: number; failed: number; unprocessed: number };
}

const SETS = [
  { kind: 'success', path: 'successfulResults' },
  { kind: 'failed', path: 'failedResults' },
  { kind: 'unprocessed', path: 'unprocessedrecords' },
] as const;

/** A safety stop for a locator that never ends: no job has this many pages of results. */
const MAX_PAGES = 10_000;

export async function readResultSets(ctx: SalesforceContext, handle: SalesforceHandle, jobs: readonly ImportedJob[]): Promise<Reading> {
  const matcher = new JobMatcher(jobs);
  const reading: Reading = {
    evidence: new Map(),
    listed: { success: 0, failed: 0, unprocessed: 0 },
    strays: { success: 0, failed: 0, unprocessed: 0 },
  };
  for (const set of SETS) {
    let locator: string | undefined;
    // A locator names the next page; one seen before would read the same pages again, forever
    // (a proxy or a broken answer repeating one header): the reading stops there.
    const followed = new Set<string>();
    for (let page = 0; page < MAX_PAGES; page++) {
      const query = locator ? `?locator=${encodeURIComponent(locator)}` : '';
      const response = await ingestCall(ctx, {
        what: `reading ${set.path} of ingest job ${handle.jobId}`,
        method: 'GET',
        path: `/${encodeURIComponent(handle.jobId)}/${set.path}/${query}`,
        accept: 'text/csv',
      });
      const next = response.headers.get('sforce-locator');
      if (response.body) {
        for await (const row of resultRows(response.body, handle.columns)) {
          reading.listed[set.kind] += 1;
          const jobId = matcher.take(row.key);
          if (jobId === undefined) {
            reading.strays[set.kind] += 1;
            continue;
          }
          reading.evidence.set(jobId, set.kind === 'failed' ? { kind: 'failed', error: row.extra.sf__Error?.trim() || 'no error given' } : { kind: set.kind });
        }
      }
      if (!next || next === 'null') break;
      if (followed.has(next)) {
        throw new RetryableError(`Salesforce answered locator "${next.slice(0, 40)}" twice while reading ${set.path} of ingest job ${handle.jobId}; its pages loop`, { code: ERROR_CODES.badVendorResponse });
      }
      followed.add(next);
      locator = next;
    }
  }
  return reading;
}
