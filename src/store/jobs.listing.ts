/**
 * The one job listing, behind both the CLI (`batch-router jobs`) and the API (`GET /v1/jobs`):
 * jobs of the `br_jobs` view matching a filter, newest first, in keyset pages.
 *
 * A job's state is derived (docs/store-design.md), so "state = X, newest first" cannot be an index
 * scan of one table. What makes it cheap is where each state can be, per destination, around its
 * claim cursor (`br_claim_cursors.claimed_through`, which every destination with jobs has from
 * its first enqueue):
 *
 * - above the cursor a job is `waiting` unless it has an exception row (cancelled, aborted, or
 *   set by hand through the view);
 * - at or below it a job is in an upload's range (`executing` while the upload is in flight, then
 *   `succeeded`) unless it has an exception row (retries, failures, imports).
 *
 * So the bulk states are `waiting` above the cursor and `succeeded` below it, and every other
 * state is in a small set of rows: exception rows, and the ranges of uploads in flight. The
 * listing reads each destination in up to three parts, each newest first and at most one page:
 * the region above the cursor, scanned when the filter takes `waiting`; the region below it,
 * scanned when the filter takes `succeeded`; and for a region not scanned, its candidates (the
 * exception rows in the filter's states, and the ranges of uploads in flight when it takes
 * `executing`). The pages of all parts of all destinations are merged. A scan of a region whose
 * bulk state the filter does not take would read through all of it to find a few rows: a
 * listing of succeeded jobs under a backlog of waiting ones read the whole backlog (1.9 s under
 * 300,000 waiting jobs, bench/explain/listing-reads.ts), as did a listing of an idle destination
 * named in an API key's scope (the scope's `= ANY` kept the index from ordering by id).
 *
 * Without a destination scope, with no state filter or one taking both bulk states, nearly every
 * job matches and the listing is one newest-first scan of the view; by submission it reads the
 * submission's jobs (an index on `submission_id`), which are bounded.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database, JobRow, JobState } from '../db/schema.ts';

type Db = Kysely<Database>;

/**
 * What `listJobs` selects; every field is optional except `limit`, and set fields combine with AND.
 */
export interface JobListFilter {
  /** Destinations the caller may see (API keys scoped to destinations); undefined means all. An empty list sees nothing. */
  visibleDestinations?: readonly string[] | undefined;
  destinationId?: string | undefined;
  states?: readonly JobState[] | undefined;
  submissionId?: string | undefined;
  createdAfter?: Date | undefined;
  createdBefore?: Date | undefined;
  updatedAfter?: Date | undefined;
  updatedBefore?: Date | undefined;
  /** Keyset cursor: only ids below this one. Newest first, so later inserts never shift a page. */
  beforeId?: string | undefined;
  limit: number;
}

/** Jobs matching `f`, newest first, at most `f.limit`; page on with `beforeId` = the last id returned. */
export async function listJobs(db: Db, f: JobListFilter): Promise<JobRow[]> {
  if (f.visibleDestinations && f.visibleDestinations.length === 0) return [];
  if (!db.isTransaction) return db.transaction().execute((trx) => listJobs(trx, f));
  await listingPlannerSettingsSql(true).execute(db);
  const { rows } = await listJobsSql(f).execute(db);
  return rows;
}

/**
 * Sets what the listing is planned with: no sequential or bitmap scans, so that every part reads
 * its index in id order and stops at a page. Statistics lag behind the job tables (a partition
 * filled since it was last analyzed looks nearly empty), and then the planner reads a whole
 * destination's jobs by bitmap and sorts them for a page of 20 (2,000 job rows read instead of
 * a few dozen, test/store/listing-reads.test.ts). JIT off too: a path that has no alternative to
 * a sequential scan (all the cursors) costs as if disabled, which is far above `jit_above_cost`,
 * and compiling it took 1 to 2 s for a page of 50. `local`: for the current transaction only.
 */
export function listingPlannerSettingsSql(local: boolean): RawBuilder<unknown> {
  return sql`SELECT set_config('enable_seqscan', 'off', ${local}), set_config('enable_bitmapscan', 'off', ${local}),
                    set_config('jit', 'off', ${local})`;
}

/** The statement behind {@link listJobs}, to run after {@link listingPlannerSettingsSql} (exported for bench/explain). */
export function listJobsSql(f: JobListFilter): RawBuilder<JobRow> {
  const states = f.states && f.states.length > 0 ? f.states : undefined;
  const takes = (state: JobState) => states === undefined || states.includes(state);
  const scoped = f.visibleDestinations !== undefined || f.destinationId !== undefined;
  if (f.submissionId !== undefined || (!scoped && takes('waiting') && takes('succeeded'))) {
    return sql<JobRow>`SELECT v.* FROM br_jobs v WHERE ${matches(f, states)} ORDER BY v.id DESC LIMIT ${f.limit}`;
  }
  const scope: RawBuilder<unknown>[] = [sql`true`];
  if (f.visibleDestinations) scope.push(sql`c.destination_id = ANY(${f.visibleDestinations}::text[])`);
  if (f.destinationId !== undefined) scope.push(sql`c.destination_id = ${f.destinationId}`);
  const above = sql`v.id > c.claimed_through`;
  const below = sql`v.id <= c.claimed_through`;
  const parts = states === undefined
    ? [scanOf(f, states, sql`true`)]
    : [
        takes('waiting') ? scanOf(f, states, above) : candidatesOf(f, states, sql`e.job_id > c.claimed_through`, false),
        takes('succeeded') ? scanOf(f, states, below) : candidatesOf(f, states, sql`e.job_id <= c.claimed_through`, takes('executing')),
      ];
  return sql<JobRow>`
    SELECT j.* FROM br_claim_cursors c
    CROSS JOIN LATERAL (${sql.join(parts, sql` UNION ALL `)}) j
    WHERE ${sql.join(scope, sql` AND `)}
    ORDER BY j.id DESC LIMIT ${f.limit}`;
}

/** The filter as a condition on the view row `v` (the destination scope is the caller's). */
function matches(f: JobListFilter, states: readonly JobState[] | undefined): RawBuilder<boolean> {
  const conditions: RawBuilder<unknown>[] = [sql`true`];
  const add = (value: unknown, condition: RawBuilder<unknown>) => value !== undefined && conditions.push(condition);
  add(f.visibleDestinations, sql`v.destination_id = ANY(${f.visibleDestinations}::text[])`);
  add(f.destinationId, sql`v.destination_id = ${f.destinationId}`);
  add(states, sql`v.state = ANY(${states}::text[])`);
  add(f.submissionId, sql`v.submission_id = ${f.submissionId}`);
  add(f.createdAfter, sql`v.created_at >= ${f.createdAfter}`);
  add(f.createdBefore, sql`v.created_at < ${f.createdBefore}`);
  add(f.updatedAfter, sql`v.updated_at >= ${f.updatedAfter}`);
  add(f.updatedBefore, sql`v.updated_at < ${f.updatedBefore}`);
  add(f.beforeId, sql`v.id < ${f.beforeId}::bigint`);
  return sql<boolean>`${sql.join(conditions, sql` AND `)}`;
}

/** One page of destination `c`'s jobs in `region`, newest first: an index range scan on (destination_id, id). */
function scanOf(f: JobListFilter, states: readonly JobState[] | undefined, region: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`(SELECT v.* FROM br_jobs v
    WHERE v.destination_id = c.destination_id AND ${region} AND ${matches(f, states)}
    ORDER BY v.id DESC LIMIT ${f.limit})`;
}

/**
 * One page, newest first, of destination `c`'s jobs in a region that can hold `states` only in
 * exception rows (`inRegion`, on alias `e`) and, below the cursor, in the ranges of uploads in
 * flight (`inFlight`). The ids are a superset, narrowed through the view; a job can be both an
 * exception row and in a range, hence DISTINCT.
 */
function candidatesOf(f: JobListFilter, states: readonly JobState[], inRegion: RawBuilder<unknown>, inFlight: boolean): RawBuilder<unknown> {
  const onPage = f.beforeId === undefined ? sql`true` : sql`e.job_id < ${f.beforeId}::bigint`;
  const branches: RawBuilder<unknown>[] = [sql`
    SELECT e.job_id AS id FROM br_job_exceptions e
    WHERE e.destination_id = c.destination_id AND e.state = ANY(${states}::text[]) AND ${inRegion} AND ${onPage}`];
  if (inFlight) {
    // OFFSET 0 keeps each range one index range scan on (destination_id, id): flattened into a
    // join, the planner does not know the bounds and hashes every job row (240 ms on 1M jobs).
    const belowPage = f.beforeId === undefined ? sql`true` : sql`r.id < ${f.beforeId}::bigint`;
    branches.push(sql`
      SELECT r.id FROM br_uploads u CROSS JOIN LATERAL (
        SELECT r.id FROM br_job_rows r
        WHERE r.destination_id = u.destination_id AND r.id BETWEEN u.first_job_id AND u.last_job_id AND ${belowPage} OFFSET 0) r
      WHERE u.destination_id = c.destination_id AND u.jobs_state = 'executing' AND u.first_job_id IS NOT NULL`);
  }
  return sql`(SELECT v.* FROM (SELECT DISTINCT id FROM (${sql.join(branches, sql` UNION ALL `)}) ids ORDER BY id DESC) ids
    CROSS JOIN LATERAL (SELECT * FROM br_jobs v WHERE v.id = ids.id) v
    WHERE ${matches(f, states)}
    ORDER BY v.id DESC LIMIT ${f.limit})`;
}
