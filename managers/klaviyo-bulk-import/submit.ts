/**
 * Creating bulk jobs: one POST to the mode's endpoint (endpoints.ts) per chunk of profiles.
 *
 * Klaviyo validates a request all or nothing. When its 4xx names specific profiles through
 * `errors[].source.pointer` (`/data/attributes/profiles/data/<i>/...`), those profiles are aborted
 * with Klaviyo's detail and the rest of the chunk is sent once more; whatever that second answer
 * is, it is final for this upload. A 4xx that does not point at profiles only (a bad list id, a
 * malformed body) aborts the whole chunk.
 */
import type { JobOutcome, StagedRow } from '../../src/manager/contract.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { classify } from '../../src/manager/errors.ts';
import type { ChunkLimits, ChunkResult } from '../_http/chunks.ts';
import { describeError, klaviyoFailure, klaviyoRequest, type KlaviyoError, type KlaviyoResponse } from './api.ts';
import type { KlaviyoContext } from './api.ts';
import type { KlaviyoConfig } from './config.ts';
import { MAX_REQUEST_BYTES, type Endpoint } from './endpoints.ts';
import type { ProfileRow } from './profile.ts';

const PROFILE_POINTER = /^\/data\/attributes\/profiles\/data\/(\d+)(?:\/|$)/;

export function chunkLimits(endpoint: Endpoint, config: KlaviyoConfig): ChunkLimits {
  return { maxItems: endpoint.maxProfiles, maxBytes: MAX_REQUEST_BYTES, envelopeBytes: Buffer.byteLength(endpoint.body([], config)), separatorBytes: 1 };
}

/** Sends one chunk, stripping profiles Klaviyo names and resending the rest once. */
export async function submitChunk(chunk: readonly StagedRow<ProfileRow>[], ctx: KlaviyoContext, endpoint: Endpoint): Promise<ChunkResult> {
  const first = await klaviyoRequest(ctx, 'POST', endpoint.path, endpoint.body(chunk, ctx.config));
  if (isSuccess(first)) return endpoint.accepted(first, chunk);
  const named = namedProfiles(first, chunk.length);
  if (!named) throw klaviyoFailure(first, `creating ${endpoint.noun} of ${chunk.length} profiles`);

  const outcomes = abortNamed(chunk, named);
  const rest = chunk.filter((_, i) => !named.has(i));
  if (rest.length === 0) return { outcomes, imports: [] };
  ctx.log.info({ rejected: named.size, resent: rest.length }, 'Klaviyo rejected some profiles; resending the rest of the chunk once');
  try {
    const second = await klaviyoRequest(ctx, 'POST', endpoint.path, endpoint.body(rest, ctx.config));
    if (isSuccess(second)) {
      const result = endpoint.accepted(second, rest);
      return { outcomes: [...outcomes, ...result.outcomes], imports: result.imports };
    }
    const namedAgain = namedProfiles(second, rest.length);
    if (!namedAgain) throw klaviyoFailure(second, `creating ${endpoint.noun} of ${rest.length} profiles (resent without rejected ones)`);
    // Only resent once: the profiles named this time are aborted; the others did nothing wrong
    // and go back to waiting, to travel in a later upload.
    const reason = 'Klaviyo rejected other profiles of the same request twice; this profile will be sent again in a later upload';
    outcomes.push(...abortNamed(rest, namedAgain), ...rest.filter((_, i) => !namedAgain.has(i)).map(({ jobId }) => retry(jobId, reason)));
    return { outcomes, imports: [] };
  } catch (error) {
    // The aborted profiles above are final; the rest get the failure's verdict as outcomes.
    const failure = classify(error);
    const codes = { code: failure.code, ...(failure.vendorCode !== undefined ? { vendorCode: failure.vendorCode } : {}) };
    for (const { jobId } of rest) {
      outcomes.push(
        failure.action === 'retry' || failure.action === 'snooze'
          ? { ...retry(jobId, failure.message, failure.retryAfterMs), ...codes }
          : { jobId, kind: 'aborted', reason: failure.message, ...codes },
      );
    }
    return { outcomes, imports: [] };
  }
}

function isSuccess(response: KlaviyoResponse): boolean {
  return response.status >= 200 && response.status < 300;
}

/**
 * Profile index → its errors, when the answer is a 4xx (not 429) and every error points into the
 * profiles array; undefined otherwise (the request as a whole is wrong, or it is not a 4xx).
 */
function namedProfiles(response: KlaviyoResponse, count: number): Map<number, KlaviyoError[]> | undefined {
  if (response.status < 400 || response.status >= 500 || response.status === 429 || response.errors.length === 0) return undefined;
  const named = new Map<number, KlaviyoError[]>();
  for (const error of response.errors) {
    const match = PROFILE_POINTER.exec(error.source?.pointer ?? '');
    const index = match ? Number(match[1]) : -1;
    if (index < 0 || index >= count) return undefined;
    named.set(index, [...(named.get(index) ?? []), error]);
  }
  return named;
}

function abortNamed(rows: readonly StagedRow<ProfileRow>[], named: Map<number, KlaviyoError[]>): JobOutcome[] {
  return [...named].map(([index, errors]) => ({
    jobId: rows[index]!.jobId,
    kind: 'aborted' as const,
    reason: `Klaviyo rejected the profile: ${errors.map(describeError).join('; ')}`,
    code: ERROR_CODES.recordRejected,
    ...(errors[0]?.code ? { vendorCode: errors[0].code } : {}),
  }));
}

function retry(jobId: string, reason: string, retryAfterMs?: number): JobOutcome {
  return { jobId, kind: 'retry', reason, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}
