/**
 * Deciding each job's outcome from Klaviyo's evidence: the job's totals and its listed import
 * errors. A job succeeds only when the errors Klaviyo attributed to profiles account for every
 * failure it counted; otherwise the jobs without a listed error have an unconfirmed outcome and
 * the destination's `unconfirmedPolicy` decides (re-send, the default, or abort).
 */
import type { ImportedJob, JobOutcome } from '../../src/manager/contract.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { describeError } from './api.ts';
import type { UnconfirmedPolicy } from './config.ts';
import type { ImportError, JobTotals } from './import-errors.ts';
import { identityKeys } from './profile.ts';

export interface Reconciliation {
  readonly outcomes: JobOutcome[];
  /** Failures Klaviyo counted (the larger of failed_count and total_count − completed_count). */
  readonly counted: number;
  /** Listed errors that name a job of the import. */
  readonly listed: number;
  /** Listed errors whose profile matches no job of the import. */
  readonly stray: number;
  /** Listed errors without the profile (`original_payload` null or missing). */
  readonly payloadless: number;
  /** Counted failures no listed error accounts for (at least 1 when the counts are unknown); > 0 makes the import inconsistent. */
  readonly unaccounted: number;
}

export function reconcile(totals: JobTotals, errors: readonly ImportError[], jobs: readonly ImportedJob[], policy: UnconfirmedPolicy): Reconciliation {
  const jobsByKey = new Map<string, string[]>();
  for (const job of jobs) if (job.correlationKey !== null) jobsByKey.set(job.correlationKey, [...(jobsByKey.get(job.correlationKey) ?? []), job.jobId]);

  const failed = new Map<string, ImportError[]>();
  let listed = 0;
  let stray = 0;
  let payloadless = 0;
  for (const error of errors) {
    const profile = profileAttributes(error.original_payload);
    if (profile === undefined) {
      payloadless += 1;
      continue;
    }
    // A duplicate identity in one import maps to every job that carried it: Klaviyo merged them.
    const matched = new Set(identityKeys(profile).flatMap((key) => jobsByKey.get(key) ?? []));
    if (matched.size === 0) stray += 1;
    else listed += 1;
    for (const jobId of matched) failed.set(jobId, [...(failed.get(jobId) ?? []), error]);
  }
  const notCompleted = totals.total !== undefined && totals.completed !== undefined ? totals.total - totals.completed : 0;
  const counted = Math.max(totals.failed ?? 0, notCompleted, errors.length);
  // Without all three counts (or with a total of 0) Klaviyo has not said how the job went: a job
  // missing from the listing is then no evidence of success, however short the listing is.
  const countsKnown = totals.total !== undefined && totals.total > 0 && totals.completed !== undefined && totals.failed !== undefined;
  const unaccounted = countsKnown ? Math.max(0, counted - listed) : Math.max(1, counted - listed);

  const outcomes: JobOutcome[] = [...failed].map(([jobId, list]) => ({
    jobId,
    kind: 'aborted',
    reason: `Klaviyo could not import the profile: ${[...new Set(list.map(describeError))].join('; ')}`,
    code: ERROR_CODES.recordRejected,
    ...vendorCodeOf(list),
  }));
  if (unaccounted > 0) {
    const base = countsKnown
      ? `Klaviyo counted ${counted} failures but listed ${listed}; outcome unconfirmed`
      : `Klaviyo's counts for the job are missing or malformed (total ${String(totals.total)}, completed ${String(totals.completed)}, failed ${String(totals.failed)}) and it listed ${listed} failures; outcome unconfirmed`;
    for (const job of jobs) {
      if (failed.has(job.jobId)) continue;
      outcomes.push(
        policy === 'resend'
          ? { jobId: job.jobId, kind: 'retry', reason: `${base}, re-sent`, code: ERROR_CODES.outcomeUnconfirmed }
          : { jobId: job.jobId, kind: 'aborted', reason: `${base}, not re-sent (unconfirmedPolicy "abort")`, code: ERROR_CODES.outcomeUnconfirmed },
      );
    }
  }
  return { outcomes, counted, listed, stray, payloadless, unaccounted };
}

/** `original_payload` is the profile as submitted: its attributes, or the whole resource. */
function profileAttributes(payload: unknown): Record<string, unknown> | undefined {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const inner = (payload as { attributes?: unknown }).attributes;
  return typeof inner === 'object' && inner !== null ? (inner as Record<string, unknown>) : (payload as Record<string, unknown>);
}

function vendorCodeOf(errors: readonly ImportError[]): { vendorCode?: string } {
  const code = errors.find((e) => typeof e.code === 'string' && e.code !== '')?.code;
  return code === undefined ? {} : { vendorCode: code };
}
