/**
 * The claim in one round trip: a PL/pgSQL function that takes the destination's claim lock, reads
 * the gate and, when a batch is due and a slot is free, claims it, all inside one statement.
 * Step by step (src/router/claim.ts) the same work is BEGIN, the lock, the gate, the claim and
 * COMMIT: five round trips, each costing the daemon a socket write and a wake-up of the server,
 * which at 500 jobs per upload was most of an upload's fixed cost.
 *
 * The function's body is compiled from the same SQL builders the step-by-step path runs (the lock
 * key, `claimGateSql`, `claimNewUploadSql`), with the function's arguments in place of parameters,
 * so there is one text of the claim. When no job retry is due (the usual case) it runs that
 * claim's new-jobs-only form, which takes the same jobs for about a third less server time. Its name carries a hash of its definition: a daemon creates
 * its own version when missing (CREATE OR REPLACE, on first use in a database), and daemons of two
 * versions sharing a database each call their own. Each statement in a VOLATILE function takes a
 * new snapshot, so the gate and the claim see everything committed before the lock was granted,
 * as they do after the lock statement of the step-by-step transaction.
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/schema.ts';
import { prepared } from '../db/prepared-statements.ts';
import { destinationLockKey } from './destination-lock.ts';
import { claimGateOf, claimGateSql, type ClaimGate, type ClaimGateRow } from './claim-gate.ts';
import { claimNewUploadSql, jobRetryDueSql, type ClaimedJob } from './jobs.claim.ts';
import { holdUploadRowSql, recordUploadSucceededSql } from './upload-success.ts';
import { readPayloadTexts } from './job-payloads.repository.ts';
import { MISSING_PAYLOAD, MISSING_PAYLOAD_SQL, PAYLOAD_SEPARATOR, PAYLOAD_SEPARATOR_SQL } from './payload-separator.ts';

type Db = Kysely<Database>;

export interface ClaimArguments {
  destinationId: string;
  manager: string;
  lease: { owner: string; ms: number };
  /** maxEventsPerUpload: the most jobs taken, and the backlog that makes a full batch. */
  limit: number;
  maxBytes: number;
  /** uploadIntervalMs: a partial batch goes once its oldest job has waited this long. */
  sendAfterMs: number;
  uploadConcurrency: number;
  /** The manager's maxConcurrentImports (uploads plus open imports), if it has one. */
  maxImports: number | undefined;
}

/**
 * An upload whose every job the vendor accepted, recorded by the same call before the claim
 * (recordUploadSucceeded's statement and guard): the worker whose upload just ended claims the
 * next one in the round trip that records it.
 */
export interface UploadToRecord {
  uploadId: string;
  /** The attempt being ended; with the lease owner, the guard. */
  attempt: number;
  jobCount: number;
  bytes: number;
}

/** What the recording did: `recorded` false when the guard no longer matched (lease lost). */
export interface RecordedUpload {
  readonly recorded: boolean;
  readonly succeeded: number;
}

export type OneStatementClaim =
  | { readonly kind: 'claimed'; readonly uploadId: string; readonly createdAt: Date; readonly jobs: ClaimedJob[] }
  /** Not claimed: the gate as read under the lock, for the caller to say why (limits, a due retry, not ready yet). */
  | { readonly kind: 'gate'; readonly gate: ClaimGate }
  /** The gate let the claim through but it took no job (another process took them meanwhile). */
  | { readonly kind: 'nothing-taken' }
  /**
   * Only with an upload to record: the claim lock stayed held by another session past
   * RECORDING_WAITS_FOR_LOCK_MS, so the recording was committed without a claim.
   */
  | { readonly kind: 'lock-busy' };

const arg = (name: string): RawBuilder<unknown> => sql.raw(name);

/**
 * Claimed jobs per result row. One row per job made the daemon parse thousands of fields per
 * claim; one row for all made each claim of 10,000 jobs a 3 MB message, which pg's reader gathers
 * in a buffer doubled up to 4 MB, per claim: at 10,000 per upload the daemon's peak RSS draining a
 * 1,000,000-job backlog rose from 231 to 287 MB.
 */
const JOBS_PER_RESULT_ROW = 1_000;

const SIGNATURE = `p_dest text, p_manager text, p_owner text, p_lease_ms double precision, p_limit integer,
  p_max_bytes bigint, p_send_after_ms double precision, p_upload_concurrency integer, p_max_imports integer,
  p_record_upload bigint, p_record_attempt integer, p_record_jobs integer, p_record_bytes bigint`;

/**
 * How long a call that records an upload waits for the claim lock before it gives the claim up.
 * A recording must not wait on the claim: the lock can be held long by another process (one
 * frozen while its claim's rows are unread holds it until it resumes), and a recording held up
 * past the upload's lease gets the upload sent again. Claims hold it a few milliseconds.
 */
export const RECORDING_WAITS_FOR_LOCK_MS = 100;

/**
 * r_kind 'gate': one row with the gate's columns; 'claimed': a row per JOBS_PER_RESULT_ROW jobs,
 * each with the upload's columns and its jobs' (ids and attempts comma-separated, payloads joined
 * by PAYLOAD_SEPARATOR with MISSING_PAYLOAD for a missing one, all in id order: a row of three
 * texts costs the daemon a fraction of what that many rows of fields cost it to parse, and joined
 * payloads need no escaping, where a JSON array of them cost the server and the daemon about a
 * tenth of the claim's time to escape and parse);
 * 'nothing' (the gate let the claim through, no job was left) and 'lock-busy' (see
 * RECORDING_WAITS_FOR_LOCK_MS): one row. Every row carries the recording's outcome, NULL when
 * there was nothing to record. Prefixed so that no output column shares a name with a table
 * column the body reads.
 */
const RESULT = `r_kind text, r_uploading bigint, r_open_imports bigint, r_retry_in_ms double precision, r_has_cursor boolean,
  r_age_ms double precision, r_ready bigint, r_upload_id bigint, r_created_ms double precision, r_ids text, r_attempts text, r_payloads text,
  r_recorded boolean, r_succeeded bigint`;

/**
 * The body. The verdict "claim now" is the step-by-step path's (src/router/claim.ts): a slot free
 * under both limits, no whole-upload retry due (the caller handles those step by step), and a
 * full batch ready or the oldest ready job waited `sendAfterMs`.
 */
function definition(db: Db): { name: string; text: string } {
  const compile = (query: RawBuilder<unknown>): string => {
    const compiled = query.compile(db);
    if (compiled.parameters.length > 0) throw new Error('the claim function body must not take parameters');
    return compiled.sql;
  };
  const lock = compile(sql`SELECT pg_advisory_xact_lock(${destinationLockKey(arg('p_dest') as RawBuilder<string>)})`).replace(/^\s*SELECT/, 'PERFORM');
  const gate = compile(claimGateSql(arg('p_dest'), arg('p_limit'), arg('p_send_after_ms')));
  const holdRecorded = compile(holdUploadRowSql(arg('p_record_upload'), arg('p_dest'))).replace(/^\s*SELECT/, 'PERFORM');
  const record = compile(recordUploadSucceededSql({
    uploadId: arg('p_record_upload'), destinationId: arg('p_dest'), owner: arg('p_owner'), attempt: arg('p_record_attempt'),
    jobCount: arg('p_record_jobs'), bytes: arg('p_record_bytes'),
  }, sql`INTO v_recorded, v_succeeded`));
  // A data-modifying WITH must be the top level of RETURN QUERY: the claim selects the result rows itself.
  // Its three aggregates are one Agg node over `claimed` (in id order), so they read the jobs in
  // the same order and the n-th id, attempt count and payload are one job's; an ORDER BY in each
  // would sort the jobs three more times (0.6 ms per 500 jobs, measured). The arrays go out in
  // slices of JOBS_PER_RESULT_ROW, in order.
  const claimOf = (newJobsOnly: boolean) => compile(claimNewUploadSql({
    destinationId: arg('p_dest'), manager: arg('p_manager'), owner: arg('p_owner'), leaseMs: arg('p_lease_ms'), limit: arg('p_limit'), maxBytes: arg('p_max_bytes'),
    newJobsOnly,
  }, sql`
    SELECT 'claimed'::text, NULL::bigint, NULL::bigint, NULL::double precision, NULL::boolean, NULL::double precision, NULL::bigint,
           i.id, (extract(epoch FROM i.created_at) * 1000)::float8,
           array_to_string(a.ids[s:s + ${sql.lit(JOBS_PER_RESULT_ROW - 1)}], ','), array_to_string(a.attempts[s:s + ${sql.lit(JOBS_PER_RESULT_ROW - 1)}], ','),
           array_to_string(a.payloads[s:s + ${sql.lit(JOBS_PER_RESULT_ROW - 1)}], ${sql.raw(PAYLOAD_SEPARATOR_SQL)}, ${sql.raw(MISSING_PAYLOAD_SQL)}),
           v_recorded, v_succeeded
    FROM inserted i, (
      SELECT array_agg(j.id) AS ids, array_agg(j.attempts) AS attempts, array_agg(j.payload) AS payloads FROM claimed j
    ) a, generate_series(1, cardinality(a.ids), ${sql.lit(JOBS_PER_RESULT_ROW)}) s
    ORDER BY s`));
  const claim = claimOf(false);
  const claimNewJobs = claimOf(true);
  const retryDue = compile(sql`SELECT ${jobRetryDueSql(arg('p_dest'))}`).replace(/^\s*SELECT/, '');
  const noJobColumns = `NULL::bigint, NULL::double precision, NULL::text, NULL::text, NULL::text, v_recorded, v_succeeded`;
  const noGateColumns = `NULL::bigint, NULL::bigint, NULL::double precision, NULL::boolean, NULL::double precision, NULL::bigint`;
  // The recording comes first and outside the lock; its wait for the lock is bounded (see
  // RECORDING_WAITS_FOR_LOCK_MS), in a block of its own so a timeout undoes nothing recorded.
  const body = `
#variable_conflict use_column
DECLARE
  g record;
  v_recorded boolean;
  v_succeeded bigint;
  v_lock_timeout text;
  v_lock_busy boolean := false;
BEGIN
  IF p_record_upload IS NULL THEN
    ${lock};
  ELSE
    ${holdRecorded};
    ${record};
    v_lock_timeout := current_setting('lock_timeout');
    PERFORM set_config('lock_timeout', '${RECORDING_WAITS_FOR_LOCK_MS}ms', true);
    BEGIN
      ${lock};
    EXCEPTION WHEN lock_not_available THEN
      v_lock_busy := true;
    END;
    PERFORM set_config('lock_timeout', v_lock_timeout, true);
    IF v_lock_busy THEN
      RETURN QUERY SELECT 'lock-busy'::text, ${noGateColumns}, ${noJobColumns};
      RETURN;
    END IF;
  END IF;
  SELECT * INTO g FROM (${gate}) gate;
  IF g.uploading >= p_upload_concurrency
     OR (p_max_imports IS NOT NULL AND g.uploading + g.open_imports >= p_max_imports)
     OR (g.retry_in_ms IS NOT NULL AND g.retry_in_ms <= 0)
     OR g.ready = 0
     OR (g.ready IS NOT NULL AND g.ready < p_limit AND greatest(coalesce(g.age_ms, 0), 0) < p_send_after_ms) THEN
    RETURN QUERY SELECT 'gate'::text, g.uploading, g.open_imports, g.retry_in_ms, g.has_cursor, g.age_ms, g.ready, ${noJobColumns};
    RETURN;
  END IF;
  IF NOT g.has_cursor THEN
    INSERT INTO br_claim_cursors (destination_id, claimed_through) VALUES (p_dest, 0) ON CONFLICT DO NOTHING;
  END IF;
  IF ${retryDue} THEN
    RETURN QUERY ${claim};
  ELSE
    RETURN QUERY ${claimNewJobs};
  END IF;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'nothing'::text, ${noGateColumns}, ${noJobColumns};
  END IF;
END`;
  const hash = createHash('sha1').update(SIGNATURE).update(RESULT).update(body).digest('hex').slice(0, 12);
  const name = `br_claim_${hash}`;
  // The claim's planner settings (see lockDestinationForClaim), for the function's statements only.
  const text = `CREATE OR REPLACE FUNCTION ${name}(${SIGNATURE}) RETURNS TABLE (${RESULT})
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan SET jit = off SET enable_seqscan = off
AS $claim$${body}$claim$`;
  return { name, text };
}

let cached: { name: string; text: string } | undefined;

function claimFunction(db: Db): { name: string; text: string } {
  cached ??= definition(db);
  return cached;
}

/** The function's name in this version, e.g. for an operator looking at pg_stat_activity. */
export function claimFunctionName(db: Db): string {
  return claimFunction(db).name;
}

interface ResultRow {
  r_kind: 'gate' | 'claimed' | 'nothing' | 'lock-busy';
  r_uploading: string;
  r_open_imports: string;
  r_retry_in_ms: number | null;
  r_has_cursor: boolean;
  r_age_ms: number | null;
  r_ready: string | null;
  r_upload_id: string;
  r_created_ms: number;
  r_ids: string;
  r_attempts: string;
  r_payloads: string;
  r_recorded: boolean | null;
  r_succeeded: string | null;
}

/**
 * Runs the claim function, creating it first if this database does not have this version yet.
 * With `record`, the same call first records that upload as all succeeded (`recorded` in the
 * answer); the recording is committed whatever the claim finds.
 */
export async function claimInOneStatement(
  db: Db,
  a: ClaimArguments,
  record?: UploadToRecord,
): Promise<OneStatementClaim & { readonly recorded?: RecordedUpload }> {
  const fn = claimFunction(db);
  const call = () => sql<ResultRow>`${prepared}SELECT * FROM ${sql.raw(fn.name)}(${a.destinationId}, ${a.manager}, ${a.lease.owner},
    ${a.lease.ms}::double precision, ${a.limit}::integer, ${a.maxBytes}::bigint, ${a.sendAfterMs}::double precision,
    ${a.uploadConcurrency}::integer, ${a.maxImports ?? null}::integer, ${record?.uploadId ?? null}::bigint,
    ${record?.attempt ?? null}::integer, ${record?.jobCount ?? null}::integer, ${record?.bytes ?? null}::bigint)`.execute(db);
  let result;
  try {
    result = await call();
  } catch (error) {
    if ((error as { code?: string }).code !== '42883') throw error; // undefined_function
    await createClaimFunction(db);
    result = await call();
  }
  const first = result.rows[0];
  if (first === undefined) throw new Error('the claim function returned no row');
  const recorded = record === undefined ? {} : { recorded: { recorded: first.r_recorded === true, succeeded: Number(first.r_succeeded ?? 0) } };
  switch (first.r_kind) {
    case 'nothing':
      return { kind: 'nothing-taken', ...recorded };
    case 'lock-busy':
      return { kind: 'lock-busy', ...recorded };
    case 'gate': {
      const gate: ClaimGateRow = {
        uploading: first.r_uploading, open_imports: first.r_open_imports, retry_in_ms: first.r_retry_in_ms,
        has_cursor: first.r_has_cursor, age_ms: first.r_age_ms, ready: first.r_ready,
      };
      return { kind: 'gate', gate: claimGateOf(gate, a.limit), ...recorded };
    }
    case 'claimed': {
      const jobs = await claimedJobs(db, result.rows);
      return { kind: 'claimed', uploadId: first.r_upload_id, createdAt: new Date(first.r_created_ms), jobs, ...recorded };
    }
  }
}

/**
 * The claimed rows' jobs, in id order. A row whose payloads do not split into one part per job
 * (a stored text holds the separator) or that has a part equal to MISSING_PAYLOAD (a missing
 * payload, or a text that is exactly that character) has its payloads read again by id: exact,
 * and never needed for events that came through the API or `enqueue`, which are JSON.
 */
async function claimedJobs(db: Db, rows: readonly ResultRow[]): Promise<ClaimedJob[]> {
  const jobs: ClaimedJob[] = [];
  for (const row of rows) {
    const ids = row.r_ids.split(',');
    const attempts = row.r_attempts.split(',');
    if (attempts.length !== ids.length) {
      throw new Error(`the claim function returned ${ids.length} job ids and ${attempts.length} attempt counts`);
    }
    let payloads: Array<string | null> = row.r_payloads.split(PAYLOAD_SEPARATOR);
    if (payloads.length !== ids.length || payloads.includes(MISSING_PAYLOAD)) {
      const texts = await readPayloadTexts(db, ids);
      payloads = ids.map((id) => texts.get(id) ?? null);
    }
    for (let i = 0; i < ids.length; i += 1) jobs.push({ id: ids[i]!, attempts: Number(attempts[i]), payload: payloads[i] ?? null });
  }
  return jobs;
}

/**
 * CREATE OR REPLACE of this version's function. Two processes creating it at once may collide in
 * the catalog (a unique violation, or "tuple concurrently updated"): the other one made it, fine.
 */
export async function createClaimFunction(db: Db): Promise<void> {
  try {
    await sql.raw(claimFunction(db).text).execute(db);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== '23505' && code !== 'XX000') throw error;
  }
}
