/**
 * The retry rule, shared by every path that fails a job: a job is aborted only when it has used
 * its attempt limit AND its retry window (time since the first failure) has passed, so a burst
 * of fast failures cannot exhaust a job in seconds and a slow trickle cannot keep it forever.
 * The next attempt waits an exponential backoff with "equal jitter" (half fixed, half random) so
 * a vendor outage does not make every upload retry in lockstep; a vendor's Retry-After wins when
 * it asks for longer. The random factor is drawn once per statement, not per row: the jobs of one
 * failed upload come due together and go out again as one batch instead of as scattered small
 * ones, which a bulk API would bill and queue as separate imports.
 */
import { sql, type RawBuilder } from 'kysely';

export interface RetryPolicy {
  maxAttempts: number;
  retryWindowMs: number;
  minBackoffMs: number;
  maxBackoffMs: number;
}

/** SQL boolean: has job `j` exhausted both limits (evaluated before `first_failed_at` is set)? */
export function exhaustedSql(policy: RetryPolicy): RawBuilder<boolean> {
  return sql<boolean>`(j.attempts >= ${policy.maxAttempts}::int
    AND coalesce(j.first_failed_at, now()) <= now() - ${policy.retryWindowMs}::double precision * interval '1 millisecond')`;
}

/**
 * SQL timestamptz: when job `j` may be tried again, given an optional per-job retry-after (ms) and
 * the statement's jitter factor in [0.5, 1) (drawn once by the caller, e.g. `(SELECT 0.5 + random() * 0.5)`).
 */
export function nextAttemptSql(policy: RetryPolicy, retryAfterMs: RawBuilder<unknown>, jitter: RawBuilder<unknown>): RawBuilder<Date> {
  return sql<Date>`now() + greatest(
      coalesce(${retryAfterMs}, 0)::double precision,
      least(${policy.maxBackoffMs}::double precision,
            ${policy.minBackoffMs}::double precision * power(2, greatest(j.attempts - 1, 0)))
        * ${jitter}
    ) * interval '1 millisecond'`;
}

/** The human-readable reason written on a job that gave up. */
export function gaveUpReasonSql(lastError: RawBuilder<unknown>): RawBuilder<string> {
  return sql<string>`'gave up after ' || j.attempts || ' attempts since '
    || to_char(coalesce(j.first_failed_at, now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    || ': ' || ${lastError}`;
}

/** Same rule in TypeScript, for tests and for explaining a job's future in `batch-router job <id>`. */
export function backoffRangeMs(policy: RetryPolicy, attempts: number): { min: number; max: number } {
  const base = Math.min(policy.maxBackoffMs, policy.minBackoffMs * 2 ** Math.max(attempts - 1, 0));
  return { min: base / 2, max: base };
}
