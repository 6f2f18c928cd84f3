/**
 * The two bulk endpoints this manager writes to, one per mode: what a request body looks like,
 * how many profiles one request may carry, and what Klaviyo's acceptance means for the jobs.
 *
 * - import (Bulk Import Profiles): 202 with a job id; the jobs move to importing and are polled.
 * - subscribe (Bulk Subscribe Profiles): 202 with no body. Klaviyo documents no job to read back,
 *   so its acceptance is all the evidence there is: the jobs succeed with a warning saying so.
 */
import type { StagedRow } from '../../src/manager/contract.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import type { ChunkResult } from '../_http/chunks.ts';
import { JOBS_PATH, type KlaviyoResponse } from './api.ts';
import type { KlaviyoConfig } from './config.ts';
import { identityKey, type ProfileRow } from './profile.ts';

export const SUBSCRIBE_PATH = '/api/profile-subscription-bulk-create-jobs';
/**
 * Klaviyo's cap is 5 MB per request. Chunks stop at 4.6 MB (RudderStack's figure) so that
 * whichever megabyte Klaviyo means, and whatever it counts, the request stays under it.
 */
export const MAX_REQUEST_BYTES = 4_600_000;

export interface Endpoint {
  readonly path: string;
  /** "a bulk import job", for messages. */
  readonly noun: string;
  /** Klaviyo's cap on profiles per request. */
  readonly maxProfiles: number;
  /** The JSON:API body; profiles are spliced in as staged, never re-parsed. */
  body(rows: readonly StagedRow<ProfileRow>[], config: KlaviyoConfig): string;
  /** The chunk's result once Klaviyo answered 2xx. */
  accepted(response: KlaviyoResponse, rows: readonly StagedRow<ProfileRow>[]): ChunkResult;
}

/** What `upload` persists to poll an import: the vendor job id, and a count for messages. */
export interface KlaviyoHandle {
  readonly klaviyoJobId: string;
  readonly profiles: number;
  [key: string]: string | number;
}

const profilesOf = (rows: readonly StagedRow<ProfileRow>[]) => rows.map(({ row }) => JSON.stringify(row)).join(',');

export const importEndpoint: Endpoint = {
  path: JOBS_PATH,
  noun: 'a bulk import job',
  maxProfiles: 10_000,
  body(rows, config) {
    const lists = config.listId === undefined ? '' : `,"relationships":{"lists":{"data":[{"type":"list","id":${JSON.stringify(config.listId)}}]}}`;
    return `{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":[${profilesOf(rows)}]}}${lists}}}`;
  },
  accepted(response, rows) {
    const data = (response.body as { data?: { id?: unknown } } | undefined)?.data;
    if (typeof data?.id !== 'string' || data.id === '') {
      // Re-sending is safe: a bulk import is an upsert, so a duplicate job changes nothing.
      throw new RetryableError(`Klaviyo answered ${response.status} to creating a bulk import job but named no job id`, { code: ERROR_CODES.badVendorResponse });
    }
    const handle: KlaviyoHandle = { klaviyoJobId: data.id, profiles: rows.length };
    return {
      outcomes: [],
      imports: [{ handle, jobs: rows.map(({ jobId, row }) => ({ jobId, ...withKey(identityKey(row.attributes)) })) }],
    };
  },
};

export const subscribeEndpoint: Endpoint = {
  path: SUBSCRIBE_PATH,
  noun: 'a bulk subscribe job',
  maxProfiles: 1_000,
  body(rows, config) {
    const attributes = [
      `"profiles":{"data":[${profilesOf(rows)}]}`,
      ...(config.historicalImport ? ['"historical_import":true'] : []),
      ...(config.customSource !== undefined ? [`"custom_source":${JSON.stringify(config.customSource)}`] : []),
    ].join(',');
    const list = config.listId === undefined ? '' : `,"relationships":{"list":{"data":{"type":"list","id":${JSON.stringify(config.listId)}}}}`;
    return `{"data":{"type":"profile-subscription-bulk-create-job","attributes":{${attributes}}${list}}}`;
  },
  accepted(response, rows) {
    const warning = `Klaviyo accepted the subscription (${response.status}); it reports no per-profile result for bulk subscribe jobs, and a double opt-in list first sends a confirmation`;
    return { outcomes: rows.map(({ jobId }) => ({ jobId, kind: 'succeeded', warning })), imports: [] };
  },
};

export function endpointFor(config: KlaviyoConfig): Endpoint {
  return config.mode === 'subscribe' ? subscribeEndpoint : importEndpoint;
}

function withKey(key: string | undefined): { correlationKey?: string } {
  return key === undefined ? {} : { correlationKey: key };
}
